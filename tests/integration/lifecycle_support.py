"""A world of dataflows a real worker created, for the lifecycle commands' tests.

``created_world`` starts the emulator, writes a manifest of a few tables of one base connection,
runs an in-process worker on the real RabbitMQ until ``onboard --wait`` saw every dataflow
created, and stops the worker: the tests then find real records in a SQLite ledger and real
resources in the emulator. ``World.cli`` runs a command with the world's settings;
``World.worker()`` runs the worker again for a test that needs one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from emulator.testing import POSTGRES_SPEC_ID, Emulator, running_emulator
from messages import decode
from tests.integration.discovery_support import write_manifest
from tests.integration.harness import delete_topology, unique
from tests.integration.platform_support import emulator_env
from tests.integration.worker_support import (
    queue_depth,
    running_worker,
    sqlite_url,
    take_all,
    worker_settings,
)
from tests.services import RABBITMQ_URL, require_service
from worker.app import Worker
from worker.cli import cli
from worker.ledger import RequestRecord, open_ledger
from worker.observability.logs import captured_logs

FLOWS = "/data/foundation/flowservice/flows"


@dataclass(frozen=True)
class World:
    """Dataflows a worker created: the emulator, the settings, the manifest and its ids."""

    emulator: Emulator
    prefix: str
    state_url: str
    manifest: Path
    base: str
    ids: dict[str, str]  # table name -> request id

    @property
    def env(self) -> dict[str, str]:
        """The DATAFLOW_* settings of a command in this world."""
        return emulator_env(
            self.emulator,
            broker_url=RABBITMQ_URL,
            topology_prefix=self.prefix,
            state_url=self.state_url,
        )

    def cli(self, *args: str, env: Mapping[str, str | None] | None = None) -> Result:
        """Run ``dataflow-worker ARGS`` in-process with the world's settings (``env`` changes
        them; None removes one)."""
        with captured_logs("error"):
            return CliRunner().invoke(cli, list(args), env={**self.env, **(env or {})})

    def worker(self) -> AbstractContextManager[Worker]:
        """The world's worker, running until the block ends."""
        settings = worker_settings(RABBITMQ_URL, self.emulator, self.state_url, self.prefix)
        return running_worker(settings)

    def record(self, table: str) -> RequestRecord:
        """The ledger's record of a table's request."""
        with open_ledger(self.state_url) as ledger:
            record = ledger.get(self.ids[table])
        assert record is not None, table
        return record

    def flow_id(self, table: str) -> str:
        """The id of a table's flow, as the ledger holds it."""
        flow = self.record(table).step("dataflow").resource_id
        assert flow is not None
        return flow

    def requests(self) -> list[dict[str, Any]]:
        """Every command waiting in the requests queue (taken out): type, routing key, data."""
        taken = take_all(RABBITMQ_URL, f"{self.prefix}.requests")
        return [
            {"type": t.type, "routing_key": t.routing_key, "data": decode(t.body).data}
            for t in taken
        ]

    def waiting(self) -> int:
        """How many commands wait in the requests queue."""
        return queue_depth(RABBITMQ_URL, f"{self.prefix}.requests")

    def write_manifest(self, path: Path, *tables: str, **changes: dict[str, Any]) -> Path:
        """A manifest of ``tables`` of the world's base connection; ``changes`` per table name
        replace fields of its request."""
        write_manifest(path, self.base, *tables)
        document = yaml.safe_load(path.read_text())
        for request in document["requests"]:
            request.update(changes.get(request["source"]["table"].split(".")[-1], {}))
        path.write_text(yaml.safe_dump(document))
        return path

    def flow(self, table: str) -> dict[str, Any]:
        """The table's flow as the Platform holds it."""
        with self.emulator.client() as http:
            response = http.get(f"{FLOWS}/{self.flow_id(table)}")
            response.raise_for_status()
            found: dict[str, Any] = response.json()["items"][0]
            return found


@contextmanager
def created_world(directory: Path, tables: Sequence[str]) -> Iterator[World]:
    """Dataflows of ``tables`` (of one base connection) created by a real worker."""
    require_service("rabbitmq")
    prefix = unique("tlife")
    try:
        with running_emulator() as emulator:
            base = emulator.create_base_connection(POSTGRES_SPEC_ID)
            manifest = directory / "manifest.yaml"
            ids = dict(zip(tables, write_manifest(manifest, base, *tables), strict=True))
            world = World(emulator, prefix, sqlite_url(directory), manifest, base, ids)
            with world.worker():
                result = world.cli("onboard", str(manifest), "--wait", "--timeout", "60")
            assert result.exit_code == 0, result.output
            yield world
    finally:
        delete_topology(RABBITMQ_URL, prefix)


def lines(result: Result) -> list[str]:
    """The lines of a command's standard output."""
    return result.stdout.splitlines()


def as_json(result: Result) -> Any:
    """A command's standard output, read as JSON."""
    return json.loads(result.stdout)

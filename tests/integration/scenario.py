"""End-to-end scenarios: a topology, a ledger, emulator and worker processes, per test.

Built on :mod:`tests.integration.harness`; the acceptance tests use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tests.integration.harness import (
    RESOURCE_KINDS,
    EmulatorProcess,
    EventCollector,
    ManagedProcess,
    WorkerProcess,
    delete_topology,
    free_port,
    unique,
    wait_until,
    worker_env,
)

# step -> (kind in /__emulator/resources, regex of the step's create path)
CREATES: dict[str, tuple[str, str]] = {
    "source_connection": ("sourceConnections", "^/data/foundation/flowservice/sourceConnections"),
    "target_schema": ("schemas", "^/data/foundation/schemaregistry/tenant/schemas"),
    "target_dataset": ("dataSets", "^/data/foundation/catalog/dataSets"),
    "target_connection": ("targetConnections", "^/data/foundation/flowservice/targetConnections"),
    "mapping_set": ("mappingSets", "^/data/foundation/conversion/mappingSets"),
    "dataflow": ("flows", "^/data/foundation/flowservice/flows"),
}


@contextmanager
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards; yields its URL."""
    import psycopg

    name = unique("tdb")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Scenario:
    """One end-to-end test's world: a topology prefix, a ledger, emulators and worker processes."""

    def __init__(self, log_dir: Path, broker_url: str, state_url: str) -> None:
        self.log_dir = log_dir
        self.broker_url = broker_url
        self.state_url = state_url
        self.prefix = unique("tacc")
        self.processes: list[ManagedProcess] = []
        self.events = EventCollector(broker_url, self.prefix)

    def emulator(self, **options: Any) -> EmulatorProcess:
        """Start an emulator process (``latency_ms``, ``faults``, ``clients``, ``port``)."""
        emulator = EmulatorProcess(self.log_dir, **options)
        emulator.start()
        self.processes.append(emulator)
        return emulator

    def worker(
        self,
        emulator: EmulatorProcess,
        *,
        args: Iterable[str] = (),
        ready: bool = True,
        concurrency: int = 8,
        broker_url: str | None = None,
        **settings: Any,
    ) -> WorkerProcess:
        """Start a worker process on this scenario's topology and ledger; wait until it is ready.

        ``broker_url`` reaches the scenario's broker another way (through a proxy that cuts);
        ``settings`` are further ``DATAFLOW_*`` values by lowercase name (``drain_seconds=5``).
        """
        options = {"drain_seconds": "10", **settings}
        env = worker_env(
            broker_url=broker_url or self.broker_url,
            state_url=self.state_url,
            prefix=self.prefix,
            platform_url=emulator.url,
            metrics_port=free_port(),
            concurrency=concurrency,
            **{key: str(value) for key, value in options.items()},
        )
        worker = WorkerProcess(self.log_dir, env, args=args)
        worker.start()
        self.processes.append(worker)
        if ready:
            wait_until(
                lambda: self._alive(worker) and worker.readyz() == 200,
                timeout=30,
                what="the worker to be ready",
                interval=0.1,
            )
        return worker

    @staticmethod
    def _alive(worker: WorkerProcess) -> bool:
        if not worker.running:
            raise AssertionError(f"the worker exited early; log:\n{worker.log_tail()}")
        return True

    def publish(self, requests: Iterable[Mapping[str, Any]]) -> list[str]:
        """Validate and publish ``DataflowRequested`` data objects with confirms; their ids."""
        from worker.config import BrokerTarget
        from worker.onboarding.manifest import ManifestItem
        from worker.onboarding.requests import prepare, publish_requests

        items = [ManifestItem(f"item {n}", dict(r)) for n, r in enumerate(requests, start=1)]
        prepared, invalid = prepare(items, source="urn:acceptance-test")
        assert not invalid, [problem.line() for problem in invalid]
        publish_requests(BrokerTarget(self.broker_url), self.prefix, prepared)
        return [ready.request_id for ready in prepared]

    def delete(self, request_id: str, reason: str | None = None) -> str:
        """Publish a ``DataflowDeletionRequested`` with confirms; its event id."""
        from messages import DataflowDeletionRequested, encode, new_event
        from worker.broker.publisher import Publisher
        from worker.broker.topology import Topology
        from worker.config import BrokerTarget

        command = DataflowDeletionRequested(request_id=request_id, reason=reason)
        event = new_event(command, source="urn:acceptance-test")
        publisher = Publisher(BrokerTarget(self.broker_url), Topology(self.prefix))
        publisher.start()
        try:
            publisher.publish_request(
                encode(event),
                event_id=event.id,
                request_id=request_id,
                event_type="DataflowDeletionRequested",
            )
        finally:
            publisher.close()
        return event.id

    def worker_logs(self) -> str:
        """The tail of every worker's log, for failure messages."""
        return "\n".join(
            f"--- {p.log_path.name}\n{p.log_tail(15)}"
            for p in self.processes
            if isinstance(p, WorkerProcess)
        )

    def close(self) -> None:
        """Stop every process, then delete the topology and the event queue."""
        for process in reversed(self.processes):
            with suppress(Exception):
                process.stop(timeout=15)
        self.events.close()
        delete_topology(self.broker_url, self.prefix)


def assert_one_resource_each(emulator: EmulatorProcess, requests: int) -> None:
    """Exactly ``requests`` resources of every kind, mapping sets included."""
    assert emulator.counts() == {kind: requests for kind in RESOURCE_KINDS}

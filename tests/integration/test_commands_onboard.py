"""`onboard` on a real RabbitMQ: dry runs call nothing, a request per table, `--wait` end to end."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from tempfile import gettempdir
from typing import Any

import kombu
import pytest
import yaml
from click.testing import CliRunner, Result

from emulator.testing import POSTGRES_SPEC_ID, running_emulator
from tests.integration.discovery_support import postgres_source, write_manifest
from tests.integration.harness import delete_topology, unique
from tests.integration.worker_support import running_worker, sqlite_url, worker_settings
from worker.cli import cli

pytestmark = pytest.mark.integration

UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1//"


@pytest.fixture
def prefix(rabbitmq_url: str) -> Iterator[str]:
    """A fresh topology prefix, deleted afterwards."""
    name = unique("tonb")
    yield name
    delete_topology(rabbitmq_url, name)


def onboard(args: list[str], broker_url: str, prefix: str, state_url: str | None = None) -> Result:
    """Run `onboard` with this test's broker, topology prefix and ledger (by default, one that
    does not exist: nothing is recorded)."""
    env = {
        "DATAFLOW_BROKER_URL": broker_url,
        "DATAFLOW_TOPOLOGY_PREFIX": prefix,
        "DATAFLOW_STATE_URL": state_url or f"sqlite:///{Path(gettempdir()) / unique('none')}.db",
    }
    return CliRunner().invoke(cli, ["onboard", *args], env=env)


def queued(broker_url: str, queue: str) -> list[Any]:
    """Take every message from a queue."""
    with kombu.Connection(broker_url) as connection:
        bound = kombu.Queue(queue).bind(connection.channel())
        messages = []
        while (message := bound.get(no_ack=True)) is not None:
            messages.append(message)
        return messages


def test_a_dry_run_plans_every_table_and_calls_no_broker(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    ids = write_manifest(manifest, "base-1", "customers", "orders")
    report = tmp_path / "plan.json"
    result = onboard([str(manifest), "--dry-run", "--report", str(report)], UNREACHABLE_BROKER, "x")
    assert result.exit_code == 0, result.output
    assert [line.split()[1] for line in result.stdout.splitlines()[:2]] == ids
    assert "2 valid, 0 invalid; nothing published" in result.stdout
    assert [row["status"] for row in json.loads(report.read_text())] == ["planned", "planned"]


def test_an_invalid_table_is_reported_and_nothing_is_published(
    rabbitmq_url: str, prefix: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.yaml"
    write_manifest(manifest, "base-1", "customers", "orders")
    document = yaml.safe_load(manifest.read_text())
    document["requests"][1]["delta_column"]["name"] = "no_such_column"
    manifest.write_text(yaml.safe_dump(document))
    result = onboard([str(manifest)], rabbitmq_url, prefix)
    assert result.exit_code == 1
    assert "delta_column.name: 'no_such_column' is not a column" in result.stderr
    assert "nothing published" in result.stdout


def test_each_table_is_published_once_with_confirms_and_reported(
    rabbitmq_url: str, prefix: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.yaml"
    ids = write_manifest(manifest, "base-1", "customers", "orders", "order_items")
    report = tmp_path / "report.csv"
    result = onboard([str(manifest), "--report", str(report)], rabbitmq_url, prefix)
    assert result.exit_code == 0, result.output
    messages = queued(rabbitmq_url, f"{prefix}.requests")
    assert [m.properties["correlation_id"] for m in messages] == ids
    rows = list(csv.DictReader(io.StringIO(report.read_text(encoding="utf-8"))))
    assert [(r["table"], r["status"]) for r in rows] == [
        ("public.customers", "published"),
        ("public.orders", "published"),
        ("public.order_items", "published"),
    ]


def test_wait_follows_a_discovered_database_to_its_dataflows_and_onboarding_again_is_a_no_op(
    rabbitmq_url: str, postgres_url: str, prefix: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.yaml"
    report = tmp_path / "report.json"
    with running_emulator() as emulator, postgres_source(postgres_url) as schema:
        base = emulator.create_base_connection(POSTGRES_SPEC_ID)
        source = ["--dsn", postgres_url, "--base-connection-id", base, "--schema", schema]
        discovered = CliRunner().invoke(
            cli, ["discover", *source, "--include", "order*", "-o", str(manifest)]
        )
        assert discovered.exit_code == 0, discovered.output
        stranger = tmp_path / "stranger.yaml"
        [failing_id] = write_manifest(stranger, "no-such-base-connection", "ghosts")
        document = yaml.safe_load(manifest.read_text())
        document["requests"] += yaml.safe_load(stranger.read_text())["requests"]
        manifest.write_text(yaml.safe_dump(document))
        settings = worker_settings(rabbitmq_url, emulator, sqlite_url(tmp_path), prefix)
        again = tmp_path / "again.json"
        with running_worker(settings):
            args = [str(manifest), "--wait", "--timeout", "60", "--report", str(report)]
            result = onboard(args, rabbitmq_url, prefix)
            flows = {flow["id"] for flow in emulator.resources()["flows"]}
            rerun = onboard([*args[:-1], str(again)], rabbitmq_url, prefix)
        flows_after_rerun = {flow["id"] for flow in emulator.resources()["flows"]}
    assert result.exit_code == 1, result.output
    rows = {row["table"]: row for row in json.loads(report.read_text())}
    assert rerun.exit_code == 1, rerun.output
    assert json.loads(again.read_text()) == json.loads(report.read_text())
    assert flows_after_rerun == flows
    assert [rows[f"{schema}.{t}"]["status"] for t in ("orders", "order_items")] == 2 * ["created"]
    assert {rows[f"{schema}.{t}"]["flow_id"] for t in ("orders", "order_items")} == flows
    assert rows["public.ghosts"]["request_id"] == failing_id
    assert rows["public.ghosts"]["status"] == "failed"
    assert rows["public.ghosts"]["error"]
    assert "2 created, 1 failed" in result.stdout


def test_wait_gives_up_after_the_timeout_and_reports_the_tables_as_timed_out(
    rabbitmq_url: str, prefix: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.yaml"
    write_manifest(manifest, "base-1", "customers")
    report = tmp_path / "report.json"
    args = [str(manifest), "--wait", "--timeout", "1", "--report", str(report)]
    result = onboard(args, rabbitmq_url, prefix)  # no worker runs: no event will come
    assert result.exit_code == 1
    [row] = json.loads(report.read_text())
    assert (row["status"], row["error"]) == ("timed out", "no terminal event (published)")

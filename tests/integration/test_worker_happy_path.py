"""A request on a real RabbitMQ becomes one dataflow on the emulator, with its events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.testing import Emulator, running_emulator
from tests.integration.harness import collecting_events
from tests.integration.samples import sample_request
from tests.integration.worker_support import (
    postgres_schema,
    publish_request,
    request_publisher,
    running_worker,
    sqlite_url,
    topology_prefix,
    worker_settings,
)

pytestmark = pytest.mark.integration

POSTGRES_SPEC_ID = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
KINDS = ("sourceConnections", "targetConnections", "flows", "schemas", "dataSets", "mappingSets")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator in a thread."""
    with running_emulator() as emu:
        yield emu


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh ledger: SQLite in tmp_path, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def prefix(rabbitmq_url: str) -> Iterator[str]:
    """A unique topology prefix, deleted afterwards."""
    with topology_prefix(rabbitmq_url) as name:
        yield name


def test_a_request_creates_one_resource_of_each_kind_and_reports_every_step(
    rabbitmq_url: str, emulator: Emulator, prefix: str, state_url: str
) -> None:
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    settings = worker_settings(rabbitmq_url, emulator, state_url, prefix)
    with (
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
        running_worker(settings) as worker,
    ):
        publish_request(publisher, sample_request("crm-happy-1", base))
        terminal = events.wait_for_terminal(["crm-happy-1"], timeout=30)
        assert worker.run_until_idle(10)
        events.drain()
    [created] = terminal["crm-happy-1"]
    assert created["type"] == "DataflowCreated"
    assert created["source"].startswith("urn:dataflow-worker:")
    steps = [e["data"]["step"] for e in events.of_type("StepCompleted")]
    assert steps == [
        "flow_spec",
        "source_connection",
        "target_schema",
        "target_dataset",
        "target_connection",
        "mapping_set",
        "dataflow",
    ]
    resources = emulator.resources()
    assert {kind: len(resources[kind]) for kind in KINDS} == dict.fromkeys(KINDS, 1)
    assert created["data"]["flow_id"] == resources["flows"][0]["id"]
    assert resources["flows"][0]["name"] == "crm crm-happy-1 (flow) [crm-happy-1]"

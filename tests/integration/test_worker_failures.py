"""Invalid, failing, retried and duplicated requests on a real RabbitMQ against the emulator."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import POSTGRES_SPEC_ID, Emulator, running_emulator
from tests.integration.harness import EventCollector, collecting_events, wait_until
from tests.integration.samples import sample_request
from tests.integration.worker_support import (
    publish_raw,
    publish_request,
    queue_depth,
    request_publisher,
    running_worker,
    sqlite_url,
    take_all,
    topology_prefix,
    worker_settings,
)
from worker.broker.publisher import Publisher
from worker.config import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator in a thread."""
    with running_emulator() as emu:
        yield emu


@pytest.fixture
def prefix(rabbitmq_url: str) -> Iterator[str]:
    """A unique topology prefix, deleted afterwards."""
    with topology_prefix(rabbitmq_url) as name:
        yield name


@pytest.fixture
def settings(rabbitmq_url: str, emulator: Emulator, prefix: str, tmp_path: Path) -> Settings:
    """An in-process worker's settings on this test's topology and SQLite ledger."""
    return worker_settings(rabbitmq_url, emulator, sqlite_url(tmp_path), prefix)


@pytest.fixture
def wired(rabbitmq_url: str, prefix: str) -> Iterator[tuple[EventCollector, Publisher]]:
    """An event collector and a request publisher on this test's topology."""
    with (
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
    ):
        yield events, publisher


def _envelope(data: Any, **changes: Any) -> bytes:
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "urn:test",
        "type": "DataflowRequested",
        "time": "2026-11-29T07:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }
    event.update(changes)
    return json.dumps(event).encode()


def _invalid_bodies(base: str) -> dict[str, bytes]:
    valid = sample_request("crm-invalid", base)
    broken = {**valid, "mappings": [], "schedule": {"frequency": "minute", "interval": 5}}
    return {
        "not json": b"this is { not json",
        "not a cloudevent": b'{"hello": "world"}',
        "unknown type": _envelope(valid, type="DataflowExploded"),
        "unknown version": _envelope(valid, dataschema="urn:dataflow-worker:DataflowRequested:99"),
        "rule violations": _envelope(broken),
    }


def test_each_invalid_message_gives_one_failure_and_is_parked_while_the_worker_goes_on(
    rabbitmq_url: str,
    emulator: Emulator,
    prefix: str,
    settings: Settings,
    wired: tuple[EventCollector, Publisher],
) -> None:
    events, publisher = wired
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    bodies = _invalid_bodies(base)
    with running_worker(settings):
        for index, body in enumerate(bodies.values()):
            publish_raw(publisher, body, message_id=f"bad-{index}")
        publish_request(publisher, sample_request("crm-after-invalid", base))
        events.wait_for_terminal(["crm-after-invalid"], timeout=30)

        def five_failures() -> bool:
            events.drain(0)
            return len(events.of_type("DataflowFailed")) >= len(bodies)

        wait_until(five_failures, timeout=20, what="one DataflowFailed per invalid message")
    failures = events.of_type("DataflowFailed")
    assert len(failures) == len(bodies)
    assert {f["data"]["error"]["kind"] for f in failures} == {"invalid_message"}
    assert all(f["data"]["error"]["fields"] for f in failures)
    parked = take_all(rabbitmq_url, f"{prefix}.dead")
    assert sorted(m.body for m in parked) == sorted(bodies.values())
    assert {m.headers["x-dataflow-reason"] for m in parked} == {"invalid_message"}
    assert events.terminal()["crm-after-invalid"][0]["type"] == "DataflowCreated"


def test_a_503_is_retried_through_the_delay_queue_and_creates_the_dataset_once(
    emulator: Emulator, settings: Settings, wired: tuple[EventCollector, Publisher]
) -> None:
    events, publisher = wired
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    emulator.set_faults({"errors": {"503": 1.0}, "paths": "^/data/foundation/catalog/"})
    with running_worker(settings) as worker:
        publish_request(publisher, sample_request("crm-retry-1", base))
        wait_until(
            lambda: any(r["status"] == 503 for r in emulator.requests()),
            timeout=20,
            what="the dataset create to be answered 503",
        )
        emulator.set_faults({})
        terminal = events.wait_for_terminal(["crm-retry-1"], timeout=30)
        retried = worker.metrics.retries_scheduled_total.labels(step="target_dataset")._value.get()
    assert terminal["crm-retry-1"][0]["type"] == "DataflowCreated"
    assert retried >= 1
    dataset_steps = [
        e for e in events.of_type("StepCompleted") if e["data"]["step"] == "target_dataset"
    ]
    assert [e["data"]["attempts"] for e in dataset_steps] == [retried + 1]
    assert len(emulator.resources()["dataSets"]) == 1


def test_a_refused_target_connection_fails_as_rejected_and_is_parked(
    rabbitmq_url: str,
    emulator: Emulator,
    prefix: str,
    settings: Settings,
    wired: tuple[EventCollector, Publisher],
) -> None:
    events, publisher = wired
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    emulator.set_faults(
        {"errors": {"400": 1.0}, "paths": "^/data/foundation/flowservice/targetConnections"}
    )
    with running_worker(settings):
        publish_request(publisher, sample_request("crm-rejected-1", base))
        terminal = events.wait_for_terminal(["crm-rejected-1"], timeout=30)
        wait_until(
            lambda: queue_depth(rabbitmq_url, f"{prefix}.dead") == 1, timeout=10, what="park"
        )
    [failed] = terminal["crm-rejected-1"]
    assert failed["type"] == "DataflowFailed"
    assert failed["data"]["step"] == "target_connection"
    assert failed["data"]["error"]["kind"] == "rejected"
    assert failed["data"]["error"]["status"] == 400
    assert set(failed["data"]["created"]) == {
        "source_connection",
        "target_schema",
        "target_dataset",
        "mapping_set",  # made beside the dataset and target connection, once the schema existed
    }
    [parked] = take_all(rabbitmq_url, f"{prefix}.dead")
    assert parked.headers["x-dataflow-reason"] == "rejected"


def test_a_same_content_duplicate_after_completion_republishes_the_terminal_event_only(
    emulator: Emulator, settings: Settings, wired: tuple[EventCollector, Publisher]
) -> None:
    events, publisher = wired
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    request = sample_request("crm-dup-1", base)
    with running_worker(settings) as worker:
        publish_request(publisher, request)
        events.wait_for_terminal(["crm-dup-1"], timeout=30)
        posts_before = sum(1 for r in emulator.requests() if r["method"] == "POST")
        publish_request(publisher, request)  # a new event id, the same content

        def republished() -> bool:
            events.drain(0)
            return len(events.terminal()["crm-dup-1"]) == 2

        wait_until(republished, timeout=20, what="the terminal event to be published again")
        assert worker.run_until_idle(10)
    first, again = events.terminal()["crm-dup-1"]
    assert again == first
    assert sum(1 for r in emulator.requests() if r["method"] == "POST") == posts_before
    assert len(emulator.resources()["flows"]) == 1


def test_a_create_applied_before_the_connection_dropped_is_found_by_name_not_made_twice(
    emulator: Emulator, settings: Settings, wired: tuple[EventCollector, Publisher]
) -> None:
    events, publisher = wired
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    emulator.set_faults(
        {"commit_then_drop": 1.0, "paths": "^/data/foundation/flowservice/sourceConnections"}
    )
    with running_worker(settings):
        publish_request(publisher, sample_request("crm-drop-1", base))
        [done] = events.wait_for_terminal(["crm-drop-1"], timeout=30)["crm-drop-1"]
        events.drain()
    source = [
        e for e in events.of_type("StepCompleted") if e["data"]["step"] == "source_connection"
    ]
    assert done["type"] == "DataflowCreated"
    assert [e["data"]["outcome"] for e in source] == ["found"]
    assert len(emulator.resources()["sourceConnections"]) == 1

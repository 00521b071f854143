"""Mapping sets have no name: a create whose answer was lost is found by content, not made twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import POSTGRES_SPEC_ID, Emulator, running_emulator
from tests.integration.harness import EventCollector, collecting_events
from tests.integration.samples import sample_request
from tests.integration.worker_support import (
    publish_request,
    request_publisher,
    running_worker,
    sqlite_url,
    topology_prefix,
    worker_settings,
)
from worker.broker.publisher import Publisher
from worker.config import Settings

pytestmark = pytest.mark.integration

FOUNDATION = "/data/foundation"
DROP_MAPPING_SET_CREATES = {
    "commit_then_drop": 1.0,
    "paths": "^/data/foundation/conversion/mappingSets",
}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator in a thread."""
    with running_emulator() as emu:
        yield emu


@pytest.fixture
def settings(rabbitmq_url: str, emulator: Emulator, tmp_path: Path) -> Iterator[Settings]:
    """An in-process worker's settings on a unique topology and a SQLite ledger."""
    with topology_prefix(rabbitmq_url) as prefix:
        yield worker_settings(rabbitmq_url, emulator, sqlite_url(tmp_path), prefix)


@pytest.fixture
def wired(rabbitmq_url: str, settings: Settings) -> Iterator[tuple[EventCollector, Publisher]]:
    """An event collector and a request publisher on this test's topology."""
    prefix = settings.topology_prefix
    with (
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
    ):
        yield events, publisher


def _get(emulator: Emulator, path: str) -> dict[str, Any]:
    with emulator.client() as http:
        response = http.get(f"{FOUNDATION}{path}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


def _mapping_set_steps(events: EventCollector, request_id: str) -> list[dict[str, Any]]:
    events.drain()
    return [
        e["data"]
        for e in events.of_type("StepCompleted")
        if e["data"]["request_id"] == request_id and e["data"]["step"] == "mapping_set"
    ]


def test_a_mapping_set_applied_before_the_connection_dropped_is_found_not_made_twice(
    emulator: Emulator, settings: Settings, wired: tuple[EventCollector, Publisher]
) -> None:
    events, publisher = wired
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    emulator.set_faults(DROP_MAPPING_SET_CREATES)
    with running_worker(settings):
        publish_request(publisher, sample_request("crm-ms-drop", base))
        [done] = events.wait_for_terminal(["crm-ms-drop"], timeout=30)["crm-ms-drop"]
    [step] = _mapping_set_steps(events, "crm-ms-drop")
    [mapping_set] = emulator.resources()["mappingSets"]
    assert done["type"] == "DataflowCreated", done
    assert (step["outcome"], step["resource_id"]) == ("found", mapping_set["id"])
    assert done["data"]["mapping_set_id"] == mapping_set["id"]
    [flow] = _get(emulator, f"/flowservice/flows/{done['data']['flow_id']}")["items"]
    mapping = [t for t in flow["transformations"] if t["name"] == "Mapping"]
    assert [t["params"]["mappingId"] for t in mapping] == [mapping_set["id"]]


def test_a_request_sharing_a_supplied_schema_adopts_its_own_set_not_the_other_requests(
    emulator: Emulator, settings: Settings, wired: tuple[EventCollector, Publisher]
) -> None:
    events, publisher = wired
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    with running_worker(settings):
        publish_request(publisher, sample_request("crm-ms-first", base))
        first = events.wait_for_terminal(["crm-ms-first"], timeout=30)["crm-ms-first"][0]["data"]
        emulator.set_faults(DROP_MAPPING_SET_CREATES)
        target = {"schema_id": first["schema_id"], "dataset_id": first["dataset_id"]}
        mappings = [{"source": "id", "destination": "_id"}]
        second_request = sample_request("crm-ms-second", base, target=target, mappings=mappings)
        publish_request(publisher, second_request)
        [second] = events.wait_for_terminal(["crm-ms-second"], timeout=30)["crm-ms-second"]
    [step] = _mapping_set_steps(events, "crm-ms-second")
    sets = {item["id"]: item for item in emulator.resources()["mappingSets"]}
    assert second["type"] == "DataflowCreated", second
    assert step["outcome"] == "found"
    assert set(sets) == {first["mapping_set_id"], second["data"]["mapping_set_id"]}
    adopted = _get(emulator, f"/conversion/mappingSets/{second['data']['mapping_set_id']}")
    assert [(m["source"], m["destination"]) for m in adopted["mappings"]] == [("id", "_id")]

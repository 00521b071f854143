"""Issue 10, acceptance 1: each rule of contract section 2.4 through the real broker and emulator.

A revision changes a dataflow in place (same flow, a new mapping set, no new connections),
disables and enables it; a stale revision or a changed fixed field is a ``conflict`` naming the
fields; a deletion removes what the request made and keeps, and reports, what it supplied or what
another dataflow still uses; deleting again republishes the same ``DataflowDeleted``; a higher
revision after a deletion creates the dataflow anew; deleting an unknown request is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.integration.harness import EmulatorProcess, wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import Scenario

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TIMEOUT = 60


def terminal(scenario: Scenario, request_id: str, count: int) -> dict[str, Any]:
    """Wait for the request's ``count``-th terminal event and return it."""

    def arrived() -> bool:
        scenario.events.drain(0)
        return len(scenario.events.terminal().get(request_id, [])) >= count

    wait_until(arrived, timeout=TIMEOUT, what=f"terminal event {count} of {request_id}")
    return scenario.events.terminal()[request_id][count - 1]


def flow(emulator: EmulatorProcess, flow_id: str) -> dict[str, Any]:
    """The flow as Flow Service returns it."""
    [item] = emulator.platform("GET", f"/flowservice/flows/{flow_id}")["items"]
    return dict(item)


def mapping_id(flow_item: Mapping[str, Any]) -> str:
    """The mapping set a flow uses."""
    [mapping] = [t for t in flow_item["transformations"] if t["name"] == "Mapping"]
    return str(mapping["params"]["mappingId"])


def test_revisions_update_the_dataflow_in_place_and_disable_and_enable_it(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    scenario.worker(emulator)
    first = sample_request("life-up", base)
    scenario.publish([first])
    created = terminal(scenario, "life-up", 1)
    assert created["type"] == "DataflowCreated", created
    flow_id = created["data"]["flow_id"]

    mappings = [
        *first["mappings"][:2],
        {"source": "first_name", "destination": "person.name.lastName"},
    ]
    schedule = {"frequency": "hour", "interval": 3, "start_time": 1795000000}
    scenario.publish([{**first, "revision": 2, "mappings": mappings, "schedule": schedule}])
    updated = terminal(scenario, "life-up", 2)
    assert updated["type"] == "DataflowUpdated", updated
    data = updated["data"]
    assert (data["flow_id"], data["revision"], data["enabled"]) == (flow_id, 2, True)
    assert data["changed"] == ["mappings", "schedule"]
    assert data["mapping_set_id"] != created["data"]["mapping_set_id"]
    now = flow(emulator, flow_id)
    assert mapping_id(now) == data["mapping_set_id"]
    assert int(now["scheduleParams"]["interval"]) == 3
    counts = emulator.counts()
    assert counts["mappingSets"] == 2  # a new set; the old one cannot be deleted or changed
    assert {counts[k] for k in ("flows", "sourceConnections", "targetConnections")} == {1}

    second = {**first, "mappings": mappings, "schedule": schedule}
    scenario.publish([{**second, "revision": 3, "enabled": False}])
    disabled = terminal(scenario, "life-up", 3)
    assert (disabled["type"], disabled["data"]["enabled"]) == ("DataflowUpdated", False)
    assert disabled["data"]["changed"] == ["enabled"]
    assert flow(emulator, flow_id)["state"] == "disabled"

    scenario.publish([{**second, "revision": 4, "enabled": True}])
    enabled = terminal(scenario, "life-up", 4)
    assert (enabled["type"], enabled["data"]["enabled"]) == ("DataflowUpdated", True)
    assert flow(emulator, flow_id)["state"] == "enabled"
    assert emulator.counts()["flows"] == 1
    steps = [
        e["data"] for e in scenario.events.of_type("StepCompleted") if e["data"]["revision"] == 3
    ]
    assert [(s["step"], s["outcome"]) for s in steps] == [
        ("dataflow", "updated"),
        ("flow_state", "disabled"),
    ]


def test_a_stale_revision_and_a_changed_fixed_field_are_conflicts_naming_the_fields(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    scenario.worker(emulator)
    first = sample_request("life-conflict", base)
    scenario.publish([first])
    assert terminal(scenario, "life-conflict", 1)["type"] == "DataflowCreated"
    later = {**first, "revision": 2, "schedule": {**first["schedule"], "interval": 2}}
    scenario.publish([later])
    assert terminal(scenario, "life-conflict", 2)["type"] == "DataflowUpdated"

    scenario.publish([{**first, "revision": 1, "delta_column": {"name": "id"}}])
    stale = terminal(scenario, "life-conflict", 3)
    assert stale["type"] == "DataflowFailed"
    assert stale["data"]["error"]["kind"] == "conflict"
    assert [f["path"] for f in stale["data"]["error"]["fields"]] == ["revision"]

    moved = {**later, "revision": 3, "source": {**first["source"], "table": "public.other"}}
    scenario.publish([moved])
    fixed = terminal(scenario, "life-conflict", 4)
    assert fixed["data"]["error"]["kind"] == "conflict"
    assert [f["path"] for f in fixed["data"]["error"]["fields"]] == ["source"]
    assert "new request_id" in fixed["data"]["error"]["message"]

    same_revision = {**later, "schedule": {**first["schedule"], "interval": 5}}
    scenario.publish([same_revision])
    other = terminal(scenario, "life-conflict", 5)
    assert [f["path"] for f in other["data"]["error"]["fields"]] == ["schedule"]
    assert emulator.counts()["flows"] == 1  # the dataflow was never touched by the conflicts


def test_deletion_removes_what_the_request_made_and_keeps_what_is_supplied_or_in_use(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    scenario.worker(emulator)
    owner = sample_request("life-owner", base)
    scenario.publish([owner])
    made = terminal(scenario, "life-owner", 1)["data"]
    # Another dataflow writes into the owner's schema (it supplies the schema, makes a dataset).
    sharer = sample_request("life-sharer", base, target={"schema_id": made["schema_id"]})
    scenario.publish([sharer])
    shared = terminal(scenario, "life-sharer", 1)["data"]
    assert shared["schema_id"] == made["schema_id"]

    scenario.delete("life-owner", reason="table retired")
    deleted = terminal(scenario, "life-owner", 2)
    assert deleted["type"] == "DataflowDeleted", deleted
    data = deleted["data"]
    assert data["reason"] == "table retired"
    assert data["deleted"] == {
        "dataflow": made["flow_id"],
        "target_connection": made["target_connection_id"],
        "target_dataset": made["dataset_id"],
        "source_connection": made["source_connection_id"],
    }
    assert data["kept"] == {
        "target_schema": {"id": made["schema_id"], "reason": "in_use"},
        "mapping_set": {"id": made["mapping_set_id"], "reason": "not_deletable"},
    }
    left = emulator.resources()
    assert made["flow_id"] not in {f["id"] for f in left["flows"]}
    assert made["schema_id"] in {s["id"] for s in left["schemas"]}

    scenario.delete("life-sharer")
    sharer_deleted = terminal(scenario, "life-sharer", 2)["data"]
    assert sharer_deleted["kept"]["target_schema"] == {"id": made["schema_id"], "reason": "reused"}
    assert sharer_deleted["deleted"]["target_dataset"] == shared["dataset_id"]

    scenario.delete("life-owner")  # again: the same event, republished
    again = terminal(scenario, "life-owner", 3)
    assert (again["type"], again["id"]) == ("DataflowDeleted", deleted["id"])

    scenario.publish([{**owner, "revision": 2}])  # after a deletion: created anew
    anew = terminal(scenario, "life-owner", 4)
    assert anew["type"] == "DataflowCreated", anew
    assert anew["data"]["flow_id"] != made["flow_id"]
    assert anew["data"]["schema_id"] == made["schema_id"]  # kept, so found again by its title


def test_deleting_a_request_the_ledger_never_saw_is_refused(scenario: Scenario) -> None:
    emulator = scenario.emulator()
    scenario.worker(emulator)
    scenario.delete("life-unknown")
    refused = terminal(scenario, "life-unknown", 1)
    assert refused["type"] == "DataflowFailed"
    assert refused["data"]["error"]["kind"] == "rejected"
    assert "nothing to delete" in refused["data"]["error"]["message"]

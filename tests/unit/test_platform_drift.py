"""Drift: a flow as the Platform holds it against the last applied revision (pure)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from messages import DataflowRequested, canonical_content
from tests.integration.samples import sample_request
from worker.core.record import RequestRecord, StepRecord
from worker.platform.drift import Applied, Drift, NotAuditableError, Observed, applied_of, drift

IDS = {
    "flow_spec": "spec-1",
    "source_connection": "src-1",
    "target_connection": "tgt-1",
    "mapping_set": "map-1",
    "dataflow": "flow-1",
}


def record(**changes: Any) -> RequestRecord:
    """A created dataflow's record: revision 2 applied, every step done."""
    request = DataflowRequested.model_validate(sample_request("crm-1", "base-1"))
    content = canonical_content(request).decode()
    steps = {step: StepRecord("done", resource) for step, resource in IDS.items()}
    fields: dict[str, Any] = {
        "steps": steps,
        "revision": 2,
        "applied_revision": 2,
        "applied_json": content,
    }
    fields.update(changes)
    return RequestRecord("crm-1", "h", content, "e-1", "updated", 0.0, 0.0, **fields)


def platform_flow(applied: Applied) -> dict[str, Any]:
    """The flow as the Platform stores what the worker sent: typed its own way, enabled."""
    flow = copy.deepcopy(applied.desired_flow())
    flow["scheduleParams"]["startTime"] = str(flow["scheduleParams"]["startTime"])
    return {**flow, "id": applied.flow_id, "state": "enabled", "etag": '"1"'}


def test_the_applied_revision_and_every_resource_come_from_the_record() -> None:
    applied = applied_of(record())
    assert (applied.revision, applied.flow_id, applied.mapping_set_id) == (2, "flow-1", "map-1")
    assert applied.desired_flow()["sourceConnectionIds"] == ["src-1"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"applied_revision": None, "applied_json": ""}, "no applied revision"),
        ({"steps": {"dataflow": StepRecord("done", "flow-1")}}, "no id for source_connection"),
    ],
)
def test_a_record_without_an_applied_dataflow_cannot_be_audited(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(NotAuditableError, match=message):
        applied_of(record(**changes))


def test_a_flow_as_it_was_applied_has_no_drift() -> None:
    applied = applied_of(record())
    assert drift(applied, Observed(platform_flow(applied), True, True)) == []


def test_a_missing_flow_and_missing_connections_are_reported_with_actual_none() -> None:
    applied = applied_of(record())
    assert drift(applied, Observed(None, False, True)) == [
        Drift("flow", "flow-1", None),
        Drift("source_connection", "src-1", None),
    ]


def test_each_changed_part_of_a_flow_is_one_difference() -> None:
    applied = applied_of(record())
    flow = platform_flow(applied)
    flow["state"] = "disabled"
    flow["scheduleParams"]["frequency"] = "week"
    flow["transformations"][0]["params"]["deltaColumn"]["name"] = "created_at"
    flow["transformations"][1]["params"]["mappingId"] = "map-2"
    flow["targetConnectionIds"] = ["tgt-2"]
    found = {d.field: d for d in drift(applied, Observed(flow, True, True))}
    assert list(found) == [
        "enabled",
        "schedule",
        "delta_column",
        "mapping_set",
        "target_connection",
    ]
    assert found["enabled"] == Drift("enabled", "enabled", "disabled")
    assert found["schedule"].actual["frequency"] == "week"
    assert found["delta_column"].expected["name"] == "updated_at"
    assert found["mapping_set"] == Drift("mapping_set", "map-1", "map-2")
    assert found["target_connection"] == Drift("target_connection", ["tgt-1"], ["tgt-2"])


def test_a_dataflow_applied_disabled_is_expected_disabled() -> None:
    disabled = canonical_content(
        DataflowRequested.model_validate(sample_request("crm-1", "base-1", enabled=False))
    ).decode()
    applied = applied_of(record(applied_json=disabled))
    flow = platform_flow(applied)
    assert drift(applied, Observed(flow, True, True)) == [Drift("enabled", "disabled", "enabled")]

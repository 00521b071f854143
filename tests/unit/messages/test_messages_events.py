"""The events of contract 2.3 and the lists of message types: what each carries and refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from messages import (
    CHANGEABLE_FIELDS,
    COMMAND_TYPES,
    EVENT_TYPES,
    PUBLISHED_TYPES,
    TERMINAL_TYPES,
    DataflowDeleted,
    DataflowUpdated,
    Kept,
    StepCompleted,
    encode,
    new_event,
)
from messages.envelope import EVENT_CLASSES, PAYLOADS

UPDATED: dict[str, Any] = {
    "request_id": "crm-42",
    "revision": 2,
    "flow_id": "f-1",
    "changed": ["schedule"],
    "mapping_set_id": "m-1",
    "enabled": True,
    "attempts": 2,
    "duration_seconds": 1.0,
}
DELETED: dict[str, Any] = {
    "request_id": "crm-42",
    "deleted": {"dataflow": "f-1"},
    "kept": {},
    "attempts": 2,
    "duration_seconds": 1.0,
}


def test_the_message_types_are_the_contracts() -> None:
    assert COMMAND_TYPES == ("DataflowRequested", "DataflowDeletionRequested")
    assert PUBLISHED_TYPES == (
        "StepCompleted",
        "DataflowCreated",
        "DataflowUpdated",
        "DataflowDeleted",
        "DataflowFailed",
        "DataflowRunCompleted",
    )
    assert EVENT_TYPES == COMMAND_TYPES + PUBLISHED_TYPES
    assert set(TERMINAL_TYPES) == {
        "DataflowCreated",
        "DataflowUpdated",
        "DataflowDeleted",
        "DataflowFailed",
    }
    assert set(PAYLOADS) == set(EVENT_CLASSES) == set(EVENT_TYPES)


@pytest.mark.parametrize(
    "outcome",
    ["created", "found", "reused", "updated", "enabled", "disabled", "deleted", "kept"],
)
def test_a_step_may_end_in_every_outcome_of_the_contract(outcome: str) -> None:
    step = StepCompleted.model_validate(
        {
            "request_id": "crm-42",
            "step": "flow_state",
            "resource_id": "f-1",
            "outcome": outcome,
            "attempts": 1,
            "duration_seconds": 0.1,
            "revision": 2,
        }
    )
    assert step.outcome == outcome


@pytest.mark.parametrize(("field", "value"), [("outcome", "patched"), ("revision", 0)])
def test_a_step_refuses_an_unknown_outcome_and_revision_0(field: str, value: Any) -> None:
    data = {
        "request_id": "crm-42",
        "step": "dataflow",
        "resource_id": "f-1",
        "outcome": "created",
        "attempts": 1,
        "duration_seconds": 0.1,
        "revision": 1,
    }
    with pytest.raises(ValidationError) as caught:
        StepCompleted.model_validate({**data, field: value})
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]


def test_an_update_lists_the_changed_fields_sorted_once_each() -> None:
    updated = DataflowUpdated.model_validate(
        {**UPDATED, "changed": ["schedule", "enabled", "mappings", "schedule"]}
    )
    assert updated.changed == ["enabled", "mappings", "schedule"]
    assert DataflowUpdated.model_validate({**UPDATED, "changed": []}).changed == []


def test_only_the_changeable_fields_can_have_changed() -> None:
    assert CHANGEABLE_FIELDS == (
        "delta_column",
        "enabled",
        "follow_runs",
        "mappings",
        "on_failure",
        "schedule",
    )
    for fixed in ("source", "target", "name", "revision"):
        with pytest.raises(ValidationError):
            DataflowUpdated.model_validate({**UPDATED, "changed": [fixed]})


def test_a_deletion_says_what_it_deleted_and_what_it_kept_and_why() -> None:
    deleted = DataflowDeleted.model_validate(
        {
            **DELETED,
            "kept": {
                "mapping_set": {"id": "m-1", "reason": "not_deletable"},
                "target_dataset": {"id": "d-1", "reason": "reused"},
                "target_schema": {"id": "s-1", "reason": "in_use"},
            },
            "reason": "the table moved",
        }
    )
    assert deleted.kept["mapping_set"] == Kept(id="m-1", reason="not_deletable")
    assert deleted.reason == "the table moved"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kept", {"mapping_set": {"id": "m-1", "reason": "forgotten"}}),
        ("kept", {"mapping_set": {"id": "", "reason": "reused"}}),
        ("deleted", {"somewhere": "x"}),
        ("reason", "line\nbreak"),
    ],
)
def test_a_deletion_refuses_unknown_steps_and_reasons(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        DataflowDeleted.model_validate({**DELETED, field: value})


def test_a_deletion_without_a_reason_echoes_null() -> None:
    event = new_event(DataflowDeleted.model_validate(DELETED), source="urn:dataflow-worker:h")
    data = json.loads(encode(event))["data"]
    assert data["reason"] is None
    assert data["kept"] == {}

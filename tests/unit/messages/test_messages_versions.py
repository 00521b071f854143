"""Dataschema versions: older messages stay valid and read as the newest; newer fields need it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from messages import (
    EVENT_TYPES,
    DataflowRequested,
    InvalidMessageError,
    RequestedEvent,
    StepCompleted,
    decode,
    encode,
    new_event,
)
from messages.envelope import PAYLOADS
from messages.versions import ADDED_IN, READ_AS, VERSIONS, upgraded

STEP = {
    "request_id": "crm-42",
    "step": "dataflow",
    "resource_id": "f-1",
    "outcome": "created",
    "attempts": 1,
    "duration_seconds": 0.5,
}


def envelope(event_type: str, data: dict[str, Any], version: int | None) -> dict[str, Any]:
    """A CloudEvent of a type around `data`, naming a dataschema version (None: none)."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:crm-sync",
        "type": event_type,
        "time": "2026-11-29T07:00:00Z",
        "data": data,
    }
    if version is not None:
        event["dataschema"] = f"urn:dataflow-worker:{event_type}:{version}"
    return event


def body(event_type: str, data: dict[str, Any], version: int | None) -> bytes:
    """The message body of `envelope`."""
    return json.dumps(envelope(event_type, data, version)).encode()


def rejection(raw: bytes) -> InvalidMessageError:
    """The error that decoding `raw` raises."""
    with pytest.raises(InvalidMessageError) as caught:
        decode(raw)
    return caught.value


def test_every_type_has_versions_and_the_added_fields_exist_in_its_model() -> None:
    assert set(VERSIONS) == set(EVENT_TYPES)
    for event_type, added in ADDED_IN.items():
        fields = PAYLOADS[event_type].model_fields
        for name, version in added.items():
            assert name in fields, (event_type, name)
            assert version in VERSIONS[event_type][1:], (event_type, name)


def test_every_added_field_that_is_required_now_has_a_value_older_data_is_read_as() -> None:
    for event_type, added in ADDED_IN.items():
        fields = PAYLOADS[event_type].model_fields
        required = {name for name in added if fields[name].is_required()}
        assert required == set(READ_AS.get(event_type, {})), event_type


def test_a_version_1_request_is_read_as_revision_1_enabled(tutorial: dict[str, Any]) -> None:
    event = decode(body("DataflowRequested", tutorial, 1))
    assert event.version == 1
    assert isinstance(event.data, DataflowRequested)
    assert (event.data.revision, event.data.enabled) == (1, True)


def test_a_version_2_request_carries_its_revision_and_state(tutorial: dict[str, Any]) -> None:
    event = decode(body("DataflowRequested", {**tutorial, "revision": 3, "enabled": False}, 2))
    assert isinstance(event.data, DataflowRequested)
    assert (event.version, event.data.revision, event.data.enabled) == (2, 3, False)


@pytest.mark.parametrize("field", ["revision", "enabled"])
def test_a_version_1_request_with_a_version_2_field_is_invalid_and_says_why(
    tutorial: dict[str, Any], field: str
) -> None:
    value = {"revision": 1, "enabled": True}[field]
    error = rejection(body("DataflowRequested", {**tutorial, field: value}, 1))
    assert error.summary == "invalid DataflowRequested"
    assert [(v.path, v.message) for v in error.fields] == [
        (
            f"data.{field}",
            f"{field} needs dataschema version 2 (urn:dataflow-worker:DataflowRequested:2);"
            " the message names version 1",
        )
    ]
    assert str(error).startswith(f"invalid DataflowRequested: data.{field}: {field} needs")


def test_the_version_violation_comes_with_every_other_violation(tutorial: dict[str, Any]) -> None:
    tutorial.update(request_id="crm 42", revision=2, enabled=False)
    tutorial["schedule"]["interval"] = 10
    error = rejection(body("DataflowRequested", tutorial, 1))
    assert {v.path for v in error.fields} == {
        "data.request_id",
        "data.schedule.interval",
        "data.revision",
        "data.enabled",
    }
    assert error.request_id == "crm 42"


def test_an_envelope_validated_directly_refuses_a_newer_field_too(
    tutorial: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError, match="revision needs dataschema version 2"):
        RequestedEvent.model_validate(envelope("DataflowRequested", {**tutorial, "revision": 2}, 1))


def test_a_version_1_step_completed_is_read_as_revision_1() -> None:
    event = decode(body("StepCompleted", STEP, 1))
    assert isinstance(event.data, StepCompleted)
    assert (event.version, event.data.revision) == (1, 1)


@pytest.mark.parametrize("version", [2, None])
def test_a_step_completed_of_version_2_needs_its_revision(version: int | None) -> None:
    error = rejection(body("StepCompleted", STEP, version))
    assert [(v.path, v.message) for v in error.fields] == [("data.revision", "Field required")]
    assert decode(body("StepCompleted", {**STEP, "revision": 5}, version)).data == StepCompleted(
        **STEP, revision=5
    )


def test_a_version_1_step_completed_with_a_revision_is_invalid() -> None:
    error = rejection(body("StepCompleted", {**STEP, "revision": 2}, 1))
    assert [v.path for v in error.fields] == ["data.revision"]
    assert "needs dataschema version 2" in error.fields[0].message


def test_reading_older_data_never_changes_the_input() -> None:
    raw = envelope("StepCompleted", dict(STEP), 1)
    before = copy.deepcopy(raw)
    read = upgraded(raw)
    assert raw == before
    assert read["data"] == {**STEP, "revision": 1}


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {"type": "StepCompleted", "data": "x", "dataschema": "urn:dataflow-worker:StepCompleted:1"},
        {
            "type": "StepCompleted",
            "data": STEP,
            "dataschema": "urn:dataflow-worker:StepCompleted:9",
        },
        {"type": "Nope", "data": STEP},
    ],
)
def test_input_that_cannot_be_read_as_older_data_is_left_as_it_is(raw: Any) -> None:
    assert upgraded(raw) is raw


def test_new_events_name_the_newest_version_of_their_type() -> None:
    event = new_event(StepCompleted(**STEP, revision=3), source="urn:dataflow-worker:test")
    assert event.dataschema == "urn:dataflow-worker:StepCompleted:2"
    assert json.loads(encode(event))["data"]["revision"] == 3

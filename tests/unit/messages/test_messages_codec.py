"""Events go to bytes and back; unreadable bodies raise one error that says why and what it read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from messages import (
    DataflowCreated,
    DataflowDeleted,
    DataflowDeletionRequested,
    DataflowFailed,
    DataflowRequested,
    DataflowUpdated,
    DeletionRequestedEvent,
    FailureError,
    FieldViolation,
    InvalidMessageError,
    Kept,
    RequestedEvent,
    StepCompleted,
    canonical_content,
    content_hash,
    decode,
    decode_command,
    encode,
    new_event,
)

SOURCE = "urn:dataflow-worker:test"
WHEN = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


def envelope(data: Any, **overrides: Any) -> dict[str, Any]:
    """A CloudEvent of type DataflowRequested around `data`, attributes overridable."""
    event = {
        "specversion": "1.0",
        "id": "8c3f5e9a-1",
        "source": "urn:crm-sync",
        "type": "DataflowRequested",
        "time": "2026-11-29T07:00:00Z",
        "subject": "x",
        "datacontenttype": "application/json",
        "data": data,
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


def rejection(body: bytes) -> InvalidMessageError:
    """The error that decoding `body` raises."""
    with pytest.raises(InvalidMessageError) as caught:
        decode(body)
    return caught.value


def test_new_event_fills_the_envelope_from_the_payload(tutorial: dict[str, Any]) -> None:
    request = DataflowRequested.model_validate(tutorial)
    event = new_event(request, source=SOURCE, time=WHEN)
    assert isinstance(event, RequestedEvent)
    assert (event.type, event.subject, event.source) == (
        "DataflowRequested",
        request.request_id,
        SOURCE,
    )
    assert event.dataschema == "urn:dataflow-worker:DataflowRequested:2"
    assert event.time == WHEN
    assert len(event.id) == 36
    assert event.data is request


def test_encode_then_decode_gives_the_same_event(tutorial: dict[str, Any]) -> None:
    event = new_event(DataflowRequested.model_validate(tutorial), source=SOURCE)
    assert decode(encode(event)) == event


def test_the_wire_form_is_the_contracts(tutorial: dict[str, Any]) -> None:
    event = new_event(
        DataflowRequested.model_validate(tutorial), source=SOURCE, id="e-1", time=WHEN
    )
    wire = json.loads(encode(event))
    assert wire["specversion"] == "1.0"
    assert wire["time"] == "2026-11-29T07:00:00Z"
    assert wire["datacontenttype"] == "application/json"
    assert wire["data"]["target"]["schema"]["class"] == "https://ns.adobe.com/xdm/context/profile"


def test_a_request_without_dataschema_is_read_as_the_newest_version(
    tutorial: dict[str, Any],
) -> None:
    tutorial.update(revision=4, enabled=False)
    event = decode(json.dumps(envelope(tutorial)).encode())
    assert event.dataschema is None
    assert event.version == 2
    assert isinstance(event.data, DataflowRequested)
    assert (event.data.revision, event.data.enabled) == (4, False)


def test_a_time_with_an_offset_is_read_as_utc(tutorial: dict[str, Any]) -> None:
    event = decode(json.dumps(envelope(tutorial, time="2026-11-29T09:00:00+02:00")).encode())
    assert event.time == WHEN
    assert event.time.tzinfo == UTC


def test_extension_attributes_survive_a_round_trip(tutorial: dict[str, Any]) -> None:
    body = json.dumps(envelope(tutorial, traceparent="00-abc-def-01")).encode()
    assert json.loads(encode(decode(body)))["traceparent"] == "00-abc-def-01"


@pytest.mark.parametrize(
    ("payload", "subject"),
    [
        (
            StepCompleted(
                request_id="r1",
                step="dataflow",
                resource_id="f",
                outcome="created",
                attempts=1,
                duration_seconds=0.5,
                revision=1,
            ),
            "r1",
        ),
        (DataflowDeletionRequested(request_id="r3", reason="gone"), "r3"),
        (
            DataflowUpdated(
                request_id="r4",
                revision=2,
                flow_id="f",
                changed=["schedule", "enabled"],
                mapping_set_id="m",
                enabled=False,
                attempts=2,
                duration_seconds=1.5,
            ),
            "r4",
        ),
        (
            DataflowDeleted(
                request_id="r5",
                deleted={"dataflow": "f", "source_connection": "s"},
                kept={"mapping_set": Kept(id="m", reason="not_deletable")},
                attempts=3,
                duration_seconds=2.0,
            ),
            "r5",
        ),
        (
            DataflowCreated(
                request_id="r2",
                flow_id="f",
                source_connection_id="s",
                target_connection_id="t",
                schema_id="sc",
                dataset_id="d",
                mapping_set_id="m",
                flow_spec_id="fs",
                attempts=7,
                duration_seconds=3.0,
            ),
            "r2",
        ),
        (
            DataflowFailed(request_id=None, error=FailureError(kind="poison", message="crashed")),
            None,
        ),
    ],
)
def test_every_event_type_survives_a_round_trip(payload: Any, subject: str | None) -> None:
    event = new_event(payload, source=SOURCE)
    assert event.subject == subject
    assert decode(encode(event)) == event


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        (b"not json", "the body is not JSON"),
        (b"\xff\xfe\x00", "the body is not JSON"),
        (b"[1, 2]", "the body is not a CloudEvent"),
        (b'{"id": "x"}', "the body is not a CloudEvent (no specversion)"),
        (b'{"specversion": "1.0", "id": "x", "type": "Nope"}', "unknown event type"),
        (b'{"specversion": "1.0", "id": "x"}', "the event has no type"),
        (b"[" * 50_000, "the body is not JSON"),
    ],
)
def test_an_unreadable_body_says_why(body: bytes, summary: str) -> None:
    assert rejection(body).summary == summary


def test_an_unknown_type_lists_the_known_ones_and_keeps_what_it_read() -> None:
    error = rejection(
        b'{"specversion": "1.0", "id": "e-9", "type": "Nope", "data": {"request_id": "r"}}'
    )
    assert (error.event_id, error.event_type, error.request_id) == ("e-9", "Nope", "r")
    assert error.fields[0].path == "type"
    assert "DataflowRequested" in error.fields[0].message
    assert {"source", "time"} <= {v.path for v in error.fields}


def test_an_unknown_dataschema_version_is_refused_clearly(tutorial: dict[str, Any]) -> None:
    body = envelope(tutorial, dataschema="urn:dataflow-worker:DataflowRequested:3")
    error = rejection(json.dumps(body).encode())
    assert error.summary == "unsupported dataschema of DataflowRequested"
    assert error.fields == [
        FieldViolation(
            path="dataschema",
            message="unknown dataschema version 3 of DataflowRequested"
            " (this worker reads version 1, 2)",
        )
    ]


def test_a_dataschema_of_another_type_is_refused(tutorial: dict[str, Any]) -> None:
    body = envelope(tutorial, dataschema="urn:dataflow-worker:StepCompleted:1")
    assert rejection(json.dumps(body).encode()).fields[0].path == "dataschema"


def test_an_invalid_request_reports_data_paths_and_its_request_id(tutorial: dict[str, Any]) -> None:
    tutorial["request_id"] = "crm 42"
    tutorial["schedule"]["interval"] = 10
    tutorial["typo"] = True
    error = rejection(json.dumps(envelope(tutorial, time="yesterday")).encode())
    assert {v.path for v in error.fields} == {
        "time",
        "data.request_id",
        "data.schedule.interval",
        "data.typo",
    }
    assert (error.event_id, error.event_type, error.request_id) == (
        "8c3f5e9a-1",
        "DataflowRequested",
        "crm 42",
    )
    assert str(error).startswith("invalid DataflowRequested: ")
    assert "data.schedule.interval" in str(error)


def test_a_time_without_a_zone_or_as_a_number_is_refused(tutorial: dict[str, Any]) -> None:
    for time in ("2026-11-29T07:00:00", 1764399600, "1764399600", "2026-11-29"):
        error = rejection(json.dumps(envelope(tutorial, time=time)).encode())
        assert [v.path for v in error.fields] == ["time"]


def test_canonical_content_is_sorted_compact_utf8_json_of_data_after_defaults(
    tutorial: dict[str, Any],
) -> None:
    tutorial["name"] = "crm Bestellungen ü"
    content = canonical_content(DataflowRequested.model_validate(tutorial))
    parsed = json.loads(content)
    assert (
        content
        == json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert "crm Bestellungen ü".encode() in content
    assert parsed["delta_column"]["date_format"] == "yyyy-MM-dd HH:mm:ss"
    assert parsed["target"]["schema"]["class"] == "https://ns.adobe.com/xdm/context/profile"


def test_spelling_out_a_default_does_not_change_the_content_hash(tutorial: dict[str, Any]) -> None:
    plain = DataflowRequested.model_validate(tutorial)
    tutorial.update(on_failure="keep", flow_spec_name="CRMToAEP", mapping_mode="explicit")
    tutorial["delta_column"]["timezone"] = "UTC"
    assert content_hash(DataflowRequested.model_validate(tutorial)) == content_hash(plain)


def test_any_change_of_content_changes_the_content_hash(tutorial: dict[str, Any]) -> None:
    plain = DataflowRequested.model_validate(tutorial)
    tutorial["schedule"]["interval"] = 30
    other = DataflowRequested.model_validate(tutorial)
    assert len(content_hash(plain)) == 64
    assert content_hash(other) != content_hash(plain)


def test_the_envelope_is_not_part_of_the_content(tutorial: dict[str, Any]) -> None:
    request = DataflowRequested.model_validate(tutorial)
    first = new_event(request, source="urn:a", time=WHEN)
    again = new_event(request, source="urn:b", time=WHEN + timedelta(hours=1))
    assert first.id != again.id
    assert isinstance(first.data, DataflowRequested)
    assert isinstance(again.data, DataflowRequested)
    assert content_hash(first.data) == content_hash(again.data)


def test_event_times_are_kept_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    event = new_event(
        DataflowFailed(
            request_id="r", error=FailureError(kind="conflict", message="other content")
        ),
        source=SOURCE,
        time=datetime(2026, 11, 29, 9, 0, tzinfo=plus_two),
    )
    assert json.loads(encode(event))["time"] == "2026-11-29T07:00:00Z"


def test_a_body_over_the_size_limit_is_refused_before_parsing_with_its_size_and_the_limit() -> None:
    body = b"{" + b" " * 5000  # not even JSON: it is never parsed
    with pytest.raises(InvalidMessageError) as caught:
        decode(body, max_bytes=4096)
    assert str(caught.value).startswith("the message is 5001 bytes, over the limit of 4096 bytes")
    assert [violation.path for violation in caught.value.fields] == ["$"]


def test_a_body_at_the_size_limit_is_read(tutorial: dict[str, Any]) -> None:
    body = encode(new_event(DataflowRequested.model_validate(tutorial), source=SOURCE))
    assert decode(body, max_bytes=len(body)).id


def test_the_size_of_a_text_body_is_counted_in_utf8_bytes() -> None:
    with pytest.raises(InvalidMessageError, match="is 6 bytes, over the limit of 5"):
        decode("ééé", max_bytes=5)


# What the worker before dataschema version 2 recorded for the tutorial's request: ledgers hold it.
TUTORIAL_HASH_OF_VERSION_1 = "16ecd1f4f75e6b83a6bfda61d58edc7b5b99957799c69c5c55086270a13b559d"


def decoded_request(data: dict[str, Any], version: int) -> DataflowRequested:
    """The request `data` read from a message that names dataschema `version`."""
    dataschema = f"urn:dataflow-worker:DataflowRequested:{version}"
    event = decode(json.dumps(envelope(data, dataschema=dataschema)).encode())
    assert isinstance(event.data, DataflowRequested)
    return event.data


def test_a_version_1_request_keeps_the_content_hash_earlier_workers_recorded(
    tutorial: dict[str, Any],
) -> None:
    assert content_hash(decoded_request(tutorial, 1)) == TUTORIAL_HASH_OF_VERSION_1


def test_a_version_1_request_and_its_version_2_twin_have_the_same_content(
    tutorial: dict[str, Any],
) -> None:
    first = decoded_request(tutorial, 1)
    twin = decoded_request({**tutorial, "revision": 1, "enabled": True}, 2)
    assert canonical_content(twin) == canonical_content(first)
    assert content_hash(twin) == content_hash(first) == TUTORIAL_HASH_OF_VERSION_1


def test_the_revision_is_not_part_of_the_content(tutorial: dict[str, Any]) -> None:
    first = decoded_request(tutorial, 1)
    later = decoded_request({**tutorial, "revision": 7}, 2)
    assert later.revision == 7
    assert content_hash(later) == content_hash(first)
    assert b"revision" not in canonical_content(later)


def test_a_disabled_request_has_other_content_than_an_enabled_one(
    tutorial: dict[str, Any],
) -> None:
    enabled = decoded_request({**tutorial, "enabled": True}, 2)
    disabled = decoded_request({**tutorial, "enabled": False}, 2)
    assert b"enabled" not in canonical_content(enabled)
    assert json.loads(canonical_content(disabled))["enabled"] is False
    assert content_hash(disabled) != content_hash(enabled)


def test_a_deletion_request_is_read_as_a_command() -> None:
    body = envelope({"request_id": "crm-42", "reason": "gone"}, type="DataflowDeletionRequested")
    event = decode_command(json.dumps(body).encode())
    assert isinstance(event, DeletionRequestedEvent)
    assert event.data == DataflowDeletionRequested(request_id="crm-42", reason="gone")
    assert event.version == 1


def test_a_request_is_read_as_a_command(tutorial: dict[str, Any]) -> None:
    event = decode_command(json.dumps(envelope(tutorial)).encode())
    assert isinstance(event, RequestedEvent)


def test_an_event_where_a_command_belongs_is_one_readable_invalid_message() -> None:
    payload = DataflowFailed(request_id="r-9", error=FailureError(kind="poison", message="x"))
    event = new_event(payload, source=SOURCE, id="e-9")
    with pytest.raises(InvalidMessageError) as caught:
        decode_command(encode(event))
    error = caught.value
    assert error.summary == (
        "expected a command (DataflowRequested, DataflowDeletionRequested), got DataflowFailed"
    )
    assert (error.event_id, error.event_type, error.request_id) == ("e-9", "DataflowFailed", "r-9")
    assert [v.path for v in error.fields] == ["type"]


def test_an_invalid_deletion_request_lists_every_violation_with_its_request_id() -> None:
    data = {"request_id": "crm 42", "reason": "a\nb", "revision": 2}
    body = envelope(data, type="DataflowDeletionRequested")
    with pytest.raises(InvalidMessageError) as caught:
        decode_command(json.dumps(body).encode())
    error = caught.value
    assert error.summary == "invalid DataflowDeletionRequested"
    assert error.request_id == "crm 42"
    assert {v.path for v in error.fields} == {"data.request_id", "data.reason", "data.revision"}

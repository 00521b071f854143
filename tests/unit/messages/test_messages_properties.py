"""Properties: valid events survive the wire unchanged; no body makes decode raise anything else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messages import (
    CHANGEABLE_FIELDS,
    STEPS,
    DataflowDeleted,
    DataflowDeletionRequested,
    DataflowFailed,
    DataflowRequested,
    DataflowRunCompleted,
    DataflowUpdated,
    Event,
    FailureError,
    FieldViolation,
    InvalidMessageError,
    Kept,
    RunError,
    RunRecords,
    StepCompleted,
    decode,
    encode,
    new_event,
)
from messages.connectors import CONNECTORS

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

request_ids = st.from_regex(r"\A[A-Za-z0-9._:-]{1,128}\Z")
texts = st.text(min_size=1, max_size=30)
xdm_paths = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,8}(\.[A-Za-z_][A-Za-z0-9_]{0,8}){0,3}\Z")
times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
)
seconds = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=10**6)
revisions = st.integers(min_value=1, max_value=2**53 - 1)
reasons = st.text(min_size=1, max_size=1000).filter(str.isprintable)

scalar_xdm = st.one_of(
    st.sampled_from(["integer", "number", "boolean", "object"]).map(lambda t: {"type": t}),
    st.sampled_from([None, "date", "date-time"]).map(
        lambda f: {"type": "string"} if f is None else {"type": "string", "format": f}
    ),
)
xdm_types = st.recursive(
    scalar_xdm, lambda inner: inner.map(lambda i: {"type": "array", "items": i}), max_leaves=3
)
meta_types = st.sampled_from(
    [None, "int", "long", "short", "byte", "double", "date", "date-time", "map"]
)


@st.composite
def requests(draw: st.DrawFn) -> DataflowRequested:
    """Any valid DataflowRequested."""
    names = draw(st.lists(texts, min_size=1, max_size=6, unique=True))
    columns = [
        {"name": n, "type": draw(texts), "xdm": draw(xdm_types), "meta_xdm_type": draw(meta_types)}
        for n in names
    ]
    auto = draw(st.booleans())
    destinations = [] if auto else draw(st.lists(xdm_paths, min_size=1, max_size=4, unique=True))
    frequency = draw(st.sampled_from(["once", "minute", "hour", "day", "week"]))
    schedule: dict[str, Any] = {"frequency": frequency, "start_time": draw(st.integers(0, 2**34))}
    if frequency != "once":
        schedule["interval"] = draw(st.integers(15 if frequency == "minute" else 1, 10**4))
        schedule["backfill"] = draw(st.none() | st.booleans())
    target = draw(
        st.sampled_from([{}, {"schema_id": "https://ns.adobe.com/t/schemas/1", "dataset_id": "d"}])
        | st.builds(
            lambda fg, t: {"schema": {"field_groups": fg, "title": t}},
            st.lists(texts, max_size=2),
            st.none() | texts,
        )
    )
    data = {
        "request_id": draw(request_ids),
        "sandbox": draw(st.none() | st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,20}\Z")),
        "name": draw(st.text(min_size=1, max_size=100).filter(str.isprintable)),
        "source": {
            "connector": draw(
                st.sampled_from(sorted(CONNECTORS) + [c.spec_id for c in CONNECTORS.values()])
            ),
            "base_connection_id": draw(texts),
            "table": draw(texts),
            "columns": columns,
        },
        "target": target,
        "mappings": [
            {"source": draw(st.sampled_from(names)), "destination": d} for d in destinations
        ],
        "mapping_mode": "auto" if auto else "explicit",
        "delta_column": {
            "name": draw(st.sampled_from(names)),
            "timezone": draw(st.sampled_from(["UTC", "Europe/Berlin"])),
        },
        "schedule": schedule,
        "on_failure": draw(st.sampled_from(["keep", "rollback"])),
        "follow_runs": draw(st.none() | st.booleans()),
        "revision": draw(revisions),
        "enabled": draw(st.booleans()),
    }
    return DataflowRequested.model_validate(data)


violations = st.lists(st.builds(FieldViolation, path=texts, message=st.text()), max_size=3)
payloads = st.one_of(
    requests(),
    st.builds(
        StepCompleted,
        request_id=request_ids,
        step=st.sampled_from(STEPS),
        resource_id=texts,
        outcome=st.sampled_from(
            ["created", "found", "reused", "updated", "enabled", "disabled", "deleted", "kept"]
        ),
        attempts=counts,
        duration_seconds=seconds,
        revision=revisions,
    ),
    st.builds(DataflowDeletionRequested, request_id=request_ids, reason=st.none() | reasons),
    st.builds(
        DataflowUpdated,
        request_id=request_ids,
        revision=revisions,
        flow_id=texts,
        changed=st.lists(st.sampled_from(CHANGEABLE_FIELDS), unique=True).map(sorted),
        mapping_set_id=texts,
        enabled=st.booleans(),
        attempts=counts,
        duration_seconds=seconds,
    ),
    st.builds(
        DataflowDeleted,
        request_id=request_ids,
        deleted=st.dictionaries(st.sampled_from(STEPS), texts, max_size=3),
        kept=st.dictionaries(
            st.sampled_from(STEPS),
            st.builds(
                Kept, id=texts, reason=st.sampled_from(["reused", "not_deletable", "in_use"])
            ),
            max_size=3,
        ),
        attempts=counts,
        duration_seconds=seconds,
        reason=st.none() | reasons,
    ),
    st.builds(
        DataflowFailed,
        request_id=st.none() | st.text(max_size=200),
        step=st.none() | st.sampled_from(STEPS),
        error=st.builds(
            FailureError,
            kind=st.sampled_from(
                ["invalid_message", "rejected", "retries_exhausted", "conflict", "poison"]
            ),
            message=st.text(),
            status=st.none() | st.integers(400, 599),
            code=st.none() | st.text(max_size=10),
            fields=st.none() | violations,
        ),
        attempts=counts,
        created=st.dictionaries(st.sampled_from(STEPS), texts, max_size=3),
        rolled_back=st.lists(st.sampled_from(STEPS), max_size=3),
    ),
    st.builds(
        DataflowRunCompleted,
        request_id=request_ids,
        flow_id=texts,
        run_id=texts,
        status=st.sampled_from(["success", "failed"]),
        records=st.builds(RunRecords, input=counts, output=counts, failed=counts),
        errors=st.lists(st.builds(RunError, code=texts, message=st.text()), max_size=2),
        started_at=times,
        completed_at=times,
    ),
)


@FAST
@given(payload=payloads, time=times, event_id=st.none() | texts)
def test_any_valid_event_survives_encode_then_decode_unchanged(
    payload: Any, time: datetime, event_id: str | None
) -> None:
    event = new_event(payload, source="urn:dataflow-worker:test", id=event_id, time=time)
    decoded = decode(encode(event))
    assert decoded == event
    assert type(decoded) is type(event)


def assert_only_invalid_message(body: bytes) -> None:
    """Decoding `body` either gives an event or raises InvalidMessageError with violations."""
    try:
        event: Event | InvalidMessageError = decode(body)
    except InvalidMessageError as error:
        event = error
    if isinstance(event, InvalidMessageError):
        assert event.fields
        assert str(event)
    else:
        assert isinstance(event, Event)


@FAST
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_the_invalid_message_error(body: bytes) -> None:
    assert_only_invalid_message(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@FAST
@given(value=json_values)
def test_arbitrary_json_raises_only_the_invalid_message_error(value: Any) -> None:
    assert_only_invalid_message(json.dumps(value).encode())


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            out += _paths(inner, (*prefix, index))
    return out


@FAST
@given(payload=payloads, data=st.data())
def test_almost_valid_envelopes_raise_only_the_invalid_message_error(
    payload: Any, data: st.DataObject
) -> None:
    document = json.loads(encode(new_event(payload, source="urn:x")))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(document)))
        *parents, last = path
        node = document
        for key in parents:
            node = node[key]
        if data.draw(st.booleans()) and isinstance(node, dict):
            del node[last]
        else:
            node[last] = data.draw(json_values)
        if not _paths(document):
            break
    assert_only_invalid_message(json.dumps(document).encode())

"""The engine's failures: invalid input, the circuit breaker and rollback."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.engine.fakes import delivery, request, rig
from worker.core.delivery import COPY_HEADER, Delivery
from worker.core.steps import Step
from worker.errors import AuthenticationError, RejectedError, RetryableError

VALID = json.loads(delivery(request()).body)


def _with(**changes: object) -> bytes:
    return json.dumps({**VALID, **changes}).encode()


@pytest.mark.parametrize(
    ("body", "request_id"),
    [
        (b"\xff\xfe not even utf-8", None),
        (b"[1, 2, 3]", None),
        (_with(type="DataflowExploded"), "crm-1"),
        (_with(dataschema="urn:dataflow-worker:DataflowRequested:7"), "crm-1"),
        (_with(data={**VALID["data"], "mappings": [], "colour": "red"}), "crm-1"),
        (_with(type="StepCompleted"), "crm-1"),
    ],
    ids=["not-json", "not-an-event", "unknown-type", "unknown-version", "rules", "not-a-request"],
)
def test_an_unreadable_message_gives_one_invalid_message_failure_and_is_parked(
    tmp_path: Path, body: bytes, request_id: str | None
) -> None:
    with rig(tmp_path) as r:
        settle = r.handle(Delivery(body=body, message_id="m-1"))
        [failed] = r.events()
        [parked] = r.parked()
    assert settle == "ack"
    assert failed["data"]["error"]["kind"] == "invalid_message"
    assert failed["data"]["error"]["fields"]
    assert failed["data"]["request_id"] == request_id
    assert parked.headers["x-dataflow-reason"] == "invalid_message"
    assert r.actions.calls == []


def test_the_same_invalid_message_delivered_twice_gives_the_same_failure_event_id(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.handle(Delivery(body=b"nope", message_id="m-1"))
        r.handle(Delivery(body=b"nope", message_id="m-1", redelivered=True))
        first, second = r.events()
    assert first["id"] == second["id"]


def test_refused_credentials_open_the_circuit_and_hand_the_request_back_uncounted(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.actions.reuse_failure = AuthenticationError("IMS refused", status=401)
        settle = r.handle(delivery(request()))
        events = r.events()
        [copy] = r.delayed()
        record = r.ledger.get("crm-1")
    assert settle == "ack"
    assert r.breaker.is_open
    assert [e["type"] for e in events] == []
    assert copy.headers[COPY_HEADER] == "authentication"
    assert record is not None
    assert record.unsettled_deliveries == 0
    assert record.status == "pending"


def test_while_the_circuit_is_open_messages_are_handed_back_before_the_ledger_sees_them(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.breaker.trip("authentication")
        settle = r.handle(delivery(request()))
        [copy] = r.delayed()
        record = r.ledger.get("crm-1")
    assert settle == "ack"
    assert copy.headers[COPY_HEADER] == "circuit_open"
    assert record is None


def test_a_sustained_outage_opens_the_circuit_instead_of_burning_retries(tmp_path: Path) -> None:
    with rig(tmp_path, threshold=2) as r:
        for step in (Step.SOURCE_CONNECTION, Step.TARGET_SCHEMA):  # every call fails
            r.actions.failures[step] = [RetryableError("503", status=503) for _ in range(5)]
        r.handle(delivery(request("crm-1")))
        r.handle(delivery(request("crm-2")))
        copies = r.delayed()
        failed = [e for e in r.events() if e["type"] == "DataflowFailed"]
    assert r.breaker.is_open
    assert sorted(c.headers[COPY_HEADER] for c in copies) == [
        "circuit_open",
        "platform_unavailable",
    ]
    assert failed == []


def test_rollback_deletes_what_the_request_made_newest_first_and_reports_the_mapping_set(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.actions.failures[Step.DATAFLOW] = [RejectedError("no", status=400)]
        r.handle(delivery(request(on_failure="rollback")))
        failed = r.events()[-1]["data"]
    assert failed["rolled_back"] == [
        "target_connection",
        "target_dataset",
        "target_schema",
        "source_connection",
    ]
    assert list(failed["created"]) == ["mapping_set"]
    assert r.actions.deleted == failed["rolled_back"]


def test_rollback_never_deletes_a_dataset_the_request_supplied(tmp_path: Path) -> None:
    target = {"schema_id": "s-given", "dataset_id": "d-given"}
    with rig(tmp_path) as r:
        r.actions.failures[Step.TARGET_CONNECTION] = [RejectedError("no", status=400)]
        r.handle(delivery(request(on_failure="rollback", target=target)))
        failed = r.events()[-1]["data"]
    assert failed["rolled_back"] == ["source_connection"]
    assert list(failed["created"]) == ["mapping_set"]  # mapping sets cannot be deleted
    assert ("delete", "target_dataset") not in r.actions.calls


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4).map(
            lambda value: json.dumps(value).encode()
        ),
        st.dictionaries(
            st.sampled_from(sorted(VALID["data"])), st.integers() | st.text(max_size=5)
        ).map(lambda data: _with(data={**VALID["data"], **data, "mappings": []})),
    )
)
def test_no_unreadable_message_crashes_the_engine_and_each_gives_one_failure(
    tmp_path: Path, body: bytes
) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as directory, rig(Path(directory)) as r:
        settle = r.handle(Delivery(body=body, message_id="m-1"))
        events = r.events()
    assert settle == "ack"
    assert [e["data"]["error"]["kind"] for e in events] == ["invalid_message"]

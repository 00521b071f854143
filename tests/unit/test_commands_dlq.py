"""``dlq``: how parked messages are described, and what replay does with each one."""

from __future__ import annotations

from typing import Any

import pytest

from messages import content_hash, encode, new_event, validate_request
from tests.integration.samples import sample_request
from worker.broker.parking import describe
from worker.commands.dlq import decide, parked_request, parked_view
from worker.ledger import RequestRecord, StepRecord

REQUEST = validate_request(sample_request("crm-1", "base-1"))
BODY = encode(new_event(REQUEST, source="urn:crm-sync"))


def record(status: str, **changes: Any) -> RequestRecord:
    """The ledger record of crm-1 in ``status``."""
    fields: dict[str, Any] = {
        "request_id": "crm-1",
        "content_hash": content_hash(REQUEST),
        "request_json": "{}",
        "first_event_id": "e-1",
        "status": status,
        "created_at": 1.0,
        "updated_at": 2.0,
        "steps": {
            "source_connection": StepRecord("done", "src-1", attempts=1, outcome="created"),
            "target_connection": StepRecord("failed", attempts=3),
        },
    }
    fields.update(changes)
    return RequestRecord(**fields)


@pytest.mark.parametrize(
    ("headers", "correlation_id", "expected"),
    [
        (
            {
                "x-dataflow-reason": "rejected",
                "x-dataflow-error": "HTTP 400",
                "x-dataflow-request-id": "crm-1",
            },
            None,
            ("crm-1", "rejected", "HTTP 400"),
        ),
        (
            {"x-death": [{"reason": "delivery_limit", "queue": "p.requests", "count": 1}]},
            "crm-1",
            ("crm-1", "delivery_limit", "dead-lettered by the broker (delivery_limit)"),
        ),
        (
            {"x-dataflow-reason": b"poison", "x-dataflow-error": b"crashed"},
            None,
            ("crm-1", "poison", "crashed"),
        ),
        (None, None, ("crm-1", "unknown", "dead-lettered by the broker (unknown)")),
    ],
)
def test_a_parked_message_is_described_from_its_headers_or_the_brokers(
    headers: dict[str, Any] | None, correlation_id: str | None, expected: tuple[str, ...]
) -> None:
    parked = describe(3, BODY, headers, message_id="e-9", correlation_id=correlation_id)
    assert (parked.request_id, parked.reason, parked.message) == expected
    assert parked.position == 3
    assert parked.event_id == "e-9"


def test_an_unreadable_parked_body_has_no_request() -> None:
    parked = describe(1, b"not json", {"x-dataflow-reason": "invalid_message"})
    assert parked.request_id is None
    assert parked_request(parked) is None
    assert parked_view([parked])[0] == {
        "position": 1,
        "request_id": None,
        "reason": "invalid_message",
        "message": "",
        "event_id": None,
    }


PARKED = describe(1, BODY, {"x-dataflow-reason": "rejected", "x-dataflow-request-id": "crm-1"})
CONFLICT = describe(1, BODY, {"x-dataflow-reason": "conflict"})
OTHER = validate_request(sample_request("crm-1", "base-1", name="other"))


@pytest.mark.parametrize(
    ("parked", "content", "stored", "action", "reason"),
    [
        (PARKED, REQUEST, record("failed"), "replay", "re-driven from target_connection"),
        (
            PARKED,
            REQUEST,
            record("failed", last_error={"kind": "rejected", "step": "mapping_set"}),
            "replay",
            "re-driven from mapping_set",
        ),
        (PARKED, REQUEST, record("created"), "remove", "already created"),
        (PARKED, REQUEST, record("pending"), "republish", "reopened earlier"),
        (PARKED, REQUEST, record("running"), "remove", "already being re-driven (running)"),
        (PARKED, REQUEST, None, "republish", "no ledger record"),
        (PARKED, None, None, "refuse", "cannot be read"),
        (CONFLICT, REQUEST, record("created"), "refuse", "conflicting duplicate"),
        (PARKED, OTHER, record("failed"), "refuse", "other content"),
    ],
)
def test_replay_decides_from_the_parked_reason_and_the_ledger(
    parked: Any, content: Any, stored: RequestRecord | None, action: str, reason: str
) -> None:
    decision = decide(parked, content, stored)
    assert decision.action == action
    assert reason in decision.reason


def test_a_parked_request_is_read_back_from_its_body() -> None:
    assert parked_request(PARKED) == REQUEST

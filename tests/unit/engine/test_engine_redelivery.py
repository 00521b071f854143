"""The engine and repeated messages: duplicates, conflicts, busy leases, poison, shutdown."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.unit.engine.fakes import delivery, request, rig
from worker.core.delivery import COPY_HEADER, copy_headers
from worker.core.steps import Step


def test_a_duplicate_of_a_finished_request_republishes_its_terminal_event_unchanged(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.handle(delivery(request()))
        first = r.events()[-1]
        calls = len(r.actions.calls)
        settle = r.handle(delivery(request()))  # same content, a new event id
        again = r.events()
    assert settle == "ack"
    assert again == [first]
    assert len(r.actions.calls) == calls
    assert r.metrics.requests_finished_total.labels(outcome="duplicate")._value.get() == 1


def test_the_workers_own_copy_of_a_finished_request_is_dropped_silently(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.handle(delivery(request()))
        r.events()
        copy = delivery(request(), headers={COPY_HEADER: "retry"})
        settle = r.handle(copy)
        events = r.events()
    assert settle == "ack"
    assert events == []


def test_the_workers_own_copy_delivered_again_after_a_crash_republishes_the_terminal_event(
    tmp_path: Path,
) -> None:
    # The copy may have finished the request and crashed before its terminal event was out.
    with rig(tmp_path) as r:
        r.handle(delivery(request()))
        first = r.events()[-1]
        copy = delivery(request(), headers={COPY_HEADER: "retry"}, redelivered=True)
        settle = r.handle(copy)
        events = r.events()
    assert settle == "ack"
    assert events == [first]


def test_a_request_id_reused_with_other_content_fails_alone_and_leaves_the_first_untouched(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.handle(delivery(request()))
        before = r.ledger.get("crm-1")
        first_events = r.events()
        settle = r.handle(delivery(request(name="another name")))
        [failed] = r.events()
        [parked] = r.parked()
        after = r.ledger.get("crm-1")
    assert settle == "ack"
    assert failed["type"] == "DataflowFailed"
    assert failed["data"]["error"]["kind"] == "conflict"
    assert failed["data"]["step"] is None
    assert failed["id"] != first_events[-1]["id"]
    assert parked.headers["x-dataflow-reason"] == "conflict"
    assert after == before


def test_a_request_leased_by_another_worker_is_handed_back_for_later_not_run(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        message = delivery(request())
        r.ledger.claim("crm-1", _hash(), _json(), "e-0", "other", 60, r.clock.now)
        settle = r.handle(message)
        [copy] = r.delayed()
    assert settle == "ack"
    assert copy.headers[COPY_HEADER] == "busy"
    assert r.actions.calls == []


def test_a_message_delivered_again_and_again_without_settling_ends_as_poison(
    tmp_path: Path,
) -> None:
    with rig(tmp_path, poison_deliveries=2) as r:
        message = delivery(request())
        for _ in range(2):  # two deliveries that "crashed" the worker: leases left to expire
            r.ledger.claim("crm-1", _hash(), _json(), message.message_id or "", "x", 5, r.clock.now)
            r.clock.now += 10
        settle = r.handle(dataclasses.replace(message, redelivered=True))
        failed = r.events()[-1]
        [parked] = r.parked()
    assert settle == "ack"
    assert failed["data"]["error"]["kind"] == "poison"
    assert parked.headers["x-dataflow-reason"] == "poison"
    assert r.actions.calls == []


def test_a_delivery_taken_while_shutting_down_goes_back_unclaimed(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.engine.interrupt()
        settle = r.handle(delivery(request()))
        record = r.ledger.get("crm-1")
    assert settle == "requeue"
    assert record is None
    assert r.actions.calls == []


def _hash() -> str:
    from messages.codec import content_hash

    return content_hash(request())


def _json() -> str:
    from messages.codec import canonical_content

    return canonical_content(request()).decode()


def test_an_unexpected_error_hands_the_message_back_and_counts_toward_poison(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.actions.reuse_failure = None
        r.actions.failures[Step.SOURCE_CONNECTION] = [ValueError("a bug")]
        settle = r.handle(delivery(request()))
        record = r.ledger.get("crm-1")
    assert settle == "requeue"
    assert record is not None
    assert record.lease_owner is None
    assert record.unsettled_deliveries == 1


def test_copies_keep_the_producers_headers_but_not_the_brokers_bookkeeping() -> None:
    original = {
        "x-death": [{"count": 1}],
        "x-first-death-queue": "q",
        "x-last-death-reason": "expired",
        "x-delivery-count": 3,
        "traceparent": "00-abc-def-01",
        COPY_HEADER: "retry",
    }
    assert copy_headers(original, {COPY_HEADER: "busy"}) == {
        "traceparent": "00-abc-def-01",
        COPY_HEADER: "busy",
    }

"""The pure rules of a request's record: claim outcomes, fencing, changes, replay, rows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.core import changes as t
from worker.core.claims import Lease, decide_request, new_record
from worker.core.record import RequestRecord, StepRecord
from worker.ledger.rows import (
    COLUMNS,
    MUTABLE_COLUMNS,
    STATE_COLUMNS,
    from_row,
    mutable_values,
    to_row,
)

T0 = 1_800_000_000.0


def leased(**changes: Any) -> RequestRecord:
    """A record leased to w1 until T0 + 30 with fence 1."""
    record = new_record("r-1", "hash-a", '{"name":"crm"}', "evt-1", Lease("w1", 30, T0))
    return replace(record, **changes)


@pytest.mark.parametrize(
    ("record", "content_hash", "now", "outcome"),
    [
        (leased(), "hash-b", T0 + 60, "conflict"),
        (leased(status="created", lease_owner=None), "hash-a", T0, "finished"),
        (leased(status="failed", lease_owner=None), "hash-b", T0, "conflict"),
        (leased(status="failed", lease_owner=None), "hash-a", T0, "finished"),
        (leased(), "hash-a", T0 + 29, "busy"),
        (leased(), "hash-a", T0 + 30, "acquired"),
        (
            leased(status="waiting_retry", lease_owner=None, lease_expires_at=None),
            "hash-a",
            T0,
            "acquired",
        ),
        (
            leased(status="pending", lease_owner=None, lease_expires_at=None),
            "hash-a",
            T0,
            "acquired",
        ),
    ],
)
def test_a_claim_on_an_existing_record_follows_hash_status_and_lease(
    record: RequestRecord, content_hash: str, now: float, outcome: str
) -> None:
    claim = decide_request(
        record, content_hash, record.request_json, 1, "evt-2", Lease("w2", 30, now)
    )
    after = claim.record
    assert claim.outcome == outcome
    if outcome == "acquired":
        assert (after.lease_owner, after.fence, after.status) == ("w2", 2, "running")
        assert (after.deliveries, after.unsettled_deliveries) == (2, 2)
        assert after.lease_expires_at == now + 30
    else:
        assert after is record


@pytest.mark.parametrize(
    ("record", "fence"),
    [
        (leased(fence=2), 1),
        (leased(fence=1, lease_owner=None), 1),
    ],
)
def test_a_write_with_a_stale_or_released_fence_does_not_match(
    record: RequestRecord, fence: int
) -> None:
    assert not t.fence_matches(record, fence)


def test_a_write_with_the_current_fence_matches() -> None:
    assert t.fence_matches(leased(fence=3), 3)


def test_an_intent_keeps_the_name_and_counts_no_attempt() -> None:
    once = t.StartSteps((("flow", "crm (flow) [r-1]"),)).apply(leased(), T0 + 1)
    twice = t.StartSteps((("flow", None),)).apply(once, T0 + 2)
    assert twice.step("flow") == StepRecord(state="started", name="crm (flow) [r-1]", attempts=0)
    assert twice.updated_at == T0 + 2
    counted = t.CountAttempt("flow").apply(twice, T0 + 3)
    assert counted.step("flow").attempts == 1


def test_retry_and_finish_release_the_lease_and_settle_the_delivery() -> None:
    error = {"kind": "retries_exhausted", "message": "503"}
    waiting = t.ScheduleRetry(T0 + 8, error).apply(leased(), T0 + 1)
    finished = t.Finish("failed", b"event", error).apply(leased(), T0 + 2)
    for record in (waiting, finished):
        assert (record.lease_owner, record.lease_expires_at) == (None, None)
        assert record.unsettled_deliveries == 0
        assert record.last_error == error
    assert (waiting.status, waiting.next_retry_at) == ("waiting_retry", T0 + 8)
    assert (finished.status, finished.finished_at, finished.terminal_event) == (
        "failed",
        T0 + 2,
        b"event",
    )


@pytest.mark.parametrize(("settled", "unsettled"), [(True, 0), (False, 1)])
def test_a_release_resets_the_poison_counter_only_when_settled(
    settled: bool, unsettled: int
) -> None:
    released = t.Release(settled).apply(leased(), T0 + 1)
    assert (released.status, released.lease_owner) == ("pending", None)
    assert released.unsettled_deliveries == unsettled


def test_a_replay_resets_the_failed_step_and_keeps_the_done_ones() -> None:
    done = StepRecord(state="done", resource_id="src-1", attempts=1, outcome="created")
    failed = StepRecord(state="failed", name="crm (flow) [r-1]", attempts=8)
    record = leased(
        status="failed",
        steps={"source_connection": done, "dataflow": failed},
        terminal_event=b"old",
        finished_at=T0 + 5,
        lease_owner=None,
    )
    reopened = t.reopened(record, T0 + 10)
    assert (reopened.status, reopened.operation) == ("pending", "create")
    assert reopened.steps == {
        "source_connection": done,
        "dataflow": StepRecord(name="crm (flow) [r-1]"),
    }
    assert (reopened.terminal_event, reopened.finished_at) == (None, None)


@pytest.mark.parametrize("status", ["pending", "running", "waiting_retry", "created"])
def test_only_a_failed_request_can_be_replayed(status: str) -> None:
    with pytest.raises(ValueError, match="only failed"):
        t.reopened(leased(status=status), T0)


def test_a_replay_after_a_rollback_makes_the_deleted_steps_pending_again() -> None:
    deleted = StepRecord(state="deleted", resource_id="src-1", name="crm (source) [r-1]")
    kept = StepRecord(state="done", resource_id="map-1", outcome="created")
    record = leased(
        status="failed",
        operation="rollback",
        steps={"source_connection": deleted, "mapping_set": kept},
        lease_owner=None,
    )
    reopened = t.reopened(record, T0 + 1)
    assert reopened.operation == "create"
    assert reopened.steps["source_connection"] == StepRecord(name="crm (source) [r-1]")
    assert reopened.steps["mapping_set"] == kept  # it was not made from a deleted resource


def test_a_replay_after_a_rollback_makes_again_what_was_built_on_a_deleted_resource() -> None:
    schema = StepRecord(state="deleted", resource_id="schema-1", name="crm (schema) [r-1]")
    mapping = StepRecord(state="done", resource_id="map-1", outcome="created")  # into schema-1
    spec = StepRecord(state="done", resource_id="spec-1", outcome="reused")
    record = leased(
        status="failed",
        operation="rollback",
        steps={"flow_spec": spec, "target_schema": schema, "mapping_set": mapping},
        lease_owner=None,
    )
    reopened = t.reopened(record, T0 + 1)
    assert reopened.steps["mapping_set"] == StepRecord()
    assert reopened.steps["target_schema"] == StepRecord(name="crm (schema) [r-1]")
    assert reopened.steps["flow_spec"] == spec


def test_a_rollback_records_its_reason_and_each_deletion() -> None:
    done = StepRecord(state="done", resource_id="src-1", outcome="created")
    record = leased(steps={"source_connection": done})
    rolling = t.BeginRollback({"kind": "rejected", "message": "400"}).apply(record, T0 + 1)
    deleted = t.StepDeleted("source_connection").apply(rolling, T0 + 2)
    assert rolling.operation == "rollback"
    assert rolling.last_error == {"kind": "rejected", "message": "400"}
    assert deleted.step("source_connection").state == "deleted"
    assert deleted.done() == {}


steps = st.dictionaries(
    st.sampled_from(["source_connection", "target_schema", "mapping_set", "dataflow"]),
    st.builds(
        StepRecord,
        state=st.sampled_from(["pending", "started", "done", "failed", "deleted"]),
        resource_id=st.none() | st.text(max_size=20),
        name=st.none() | st.text(max_size=40),
        attempts=st.integers(0, 50),
        outcome=st.none() | st.sampled_from(["created", "found", "reused"]),
        duration_seconds=st.none() | st.floats(0, 1e4),
    ),
)
errors = st.none() | st.fixed_dictionaries(
    {"kind": st.sampled_from(["rejected", "poison"]), "message": st.text(max_size=30)}
)


@given(
    steps=steps,
    error=errors,
    event=st.none() | st.binary(max_size=40),
    runs=st.lists(st.fixed_dictionaries({"run_id": st.text(max_size=8)}), max_size=2),
)
def test_a_record_survives_the_trip_to_a_row_and_back(
    steps: dict[str, StepRecord],
    error: dict[str, str] | None,
    event: bytes | None,
    runs: list[dict[str, str]],
) -> None:
    record = leased(
        steps=steps,
        last_error=error,
        terminal_event=event,
        runs=tuple(runs),
        operation="rollback" if error else "create",
    )
    row = to_row(record)
    assert from_row(row) == record
    by_column = dict(zip(COLUMNS, row, strict=True))
    assert mutable_values(record) == tuple(by_column[column] for column in MUTABLE_COLUMNS)


def test_a_row_without_the_request_content_reads_as_the_same_state() -> None:
    record = leased(steps={"dataflow": StepRecord(state="done", resource_id="f-1")})
    row = dict(zip(COLUMNS, to_row(record), strict=True))
    state_row = [row[column] for column in STATE_COLUMNS]
    assert from_row(state_row, STATE_COLUMNS) == replace(record, request_json="")


def test_the_attempts_of_a_record_add_up_its_steps() -> None:
    record = leased(steps={"a": StepRecord(attempts=2), "b": StepRecord(attempts=3)})
    assert record.attempts == 5


def test_the_fast_replace_copies_every_field_and_refuses_unknown_ones() -> None:
    record = leased(steps={"a": StepRecord(attempts=1)}, runs=({"run_id": "x"},))
    assert t.replace(record, fence=9) == replace(record, fence=9)
    assert t.replace(StepRecord(), name="n") == StepRecord(name="n")
    with pytest.raises(TypeError, match="unknown fields"):
        t.replace(record, fenc=9)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("claim"), st.sampled_from(["w1", "w2", "w3"]), st.integers(0, 40)),
        st.tuples(st.just("write"), st.integers(0, 6), st.integers(0, 40)),
        st.tuples(st.just("retry"), st.integers(0, 6), st.integers(0, 40)),
        st.tuples(st.just("finish"), st.integers(0, 6), st.integers(0, 40)),
    ),
    max_size=30,
)


@given(operations=operations)
def test_only_the_latest_claim_can_write_and_a_finished_request_stays_finished(
    operations: list[tuple[str, Any, int]],
) -> None:
    record = leased()
    now = T0
    latest_fence = 1
    for operation, argument, advance in operations:
        now += advance
        if operation == "claim":
            claim = decide_request(record, "hash-a", "{}", 1, "evt-1", Lease(argument, 30, now))
            outcome, after = claim.outcome, claim.record
            if record.finished:
                assert outcome == "finished"
            if outcome == "acquired":
                assert after.fence == record.fence + 1
                latest_fence = after.fence
            record = after
            continue
        accepted = record.lease_owner is not None and argument == record.fence
        if not t.fence_matches(record, argument):
            assert not accepted
            continue
        assert accepted
        assert argument == latest_fence
        change: t.Change
        if operation == "write":
            change = t.StartSteps((("dataflow", None),))
        elif operation == "retry":
            change = t.ScheduleRetry(now + 5, {"kind": "x"})
        else:
            change = t.Finish("created", b"e", None)
        record = change.apply(record, now)
    assert record.fence == latest_fence
    assert record.deliveries == latest_fence

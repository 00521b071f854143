"""How each ledger operation changes a record: pure functions from a record to the next one.

The storage variants load the record inside a transaction, call one of these and write the result,
so the rules (claim outcomes, fencing, replay) are the same for SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, Literal, TypeVar

from worker.errors import LeaseLostError
from worker.ledger.base import (
    ClaimOutcome,
    LedgerStateError,
    RequestRecord,
    StepOutcome,
    StepRecord,
)

_Record = TypeVar("_Record", RequestRecord, StepRecord)
_FIELDS: dict[type, frozenset[str]] = {
    cls: frozenset(field.name for field in fields(cls)) for cls in (RequestRecord, StepRecord)
}


def replace(record: _Record, **changes: Any) -> _Record:
    """``dataclasses.replace`` for the ledger's hot path, about twice as fast.

    It skips ``__init__`` (the records have no validation) and the per-call field introspection;
    unknown field names are still refused.
    """
    names = _FIELDS[type(record)]
    if not names.issuperset(changes):
        raise TypeError(f"unknown fields {sorted(set(changes) - names)}")
    copy = object.__new__(type(record))
    for name in names:
        object.__setattr__(copy, name, changes[name] if name in changes else getattr(record, name))
    return copy


def new_record(
    request_id: str,
    content_hash: str,
    request_json: str,
    event_id: str,
    owner: str,
    lease_seconds: float,
    now: float,
) -> RequestRecord:
    """The record of a request seen for the first time, leased to ``owner`` (fence 1)."""
    return RequestRecord(
        request_id=request_id,
        content_hash=content_hash,
        request_json=request_json,
        first_event_id=event_id,
        status="running",
        created_at=now,
        updated_at=now,
        deliveries=1,
        unsettled_deliveries=1,
        lease_owner=owner,
        lease_expires_at=now + lease_seconds,
        fence=1,
    )


def lease_held(record: RequestRecord, now: float) -> bool:
    """True while some worker holds an unexpired lease on the record."""
    return (
        record.lease_owner is not None
        and record.lease_expires_at is not None
        and record.lease_expires_at > now
    )


def decide_claim(
    record: RequestRecord,
    content_hash: str,
    owner: str,
    lease_seconds: float,
    now: float,
) -> tuple[ClaimOutcome, RequestRecord]:
    """The outcome of claiming an existing record, and the record afterwards."""
    if record.content_hash != content_hash:
        return "conflict", record
    if record.finished:
        return "finished", record
    if lease_held(record, now):
        return "busy", record
    claimed = replace(
        record,
        status="running",
        lease_owner=owner,
        lease_expires_at=now + lease_seconds,
        fence=record.fence + 1,
        deliveries=record.deliveries + 1,
        unsettled_deliveries=record.unsettled_deliveries + 1,
        updated_at=now,
    )
    return "acquired", claimed


def check_fence(record: RequestRecord, fence: int) -> None:
    """Raise ``LeaseLostError`` unless ``fence`` is the token of the lease currently held."""
    if record.fence != fence or record.lease_owner is None:
        raise LeaseLostError(
            f"request {record.request_id}: lease lost (fence {fence}, "
            f"ledger has {record.fence}{'' if record.lease_owner else ', released'})"
        )


def _with_step(record: RequestRecord, name: str, step: StepRecord, now: float) -> RequestRecord:
    return replace(record, steps={**record.steps, name: step}, updated_at=now)


def with_intent(record: RequestRecord, step: str, name: str | None, now: float) -> RequestRecord:
    """Step started: the intended resource name is kept and one more attempt counted."""
    current = record.step(step)
    started = replace(
        current,
        state="started",
        name=name if name is not None else current.name,
        attempts=current.attempts + 1,
    )
    return _with_step(record, step, started, now)


def with_step_done(
    record: RequestRecord,
    step: str,
    resource_id: str,
    outcome: StepOutcome,
    attempts: int,
    duration: float,
    now: float,
) -> RequestRecord:
    """Step done with what it created, found or reused."""
    done = replace(
        record.step(step),
        state="done",
        resource_id=resource_id,
        outcome=outcome,
        attempts=attempts,
        duration_seconds=duration,
    )
    return _with_step(record, step, done, now)


def with_step_failed(
    record: RequestRecord,
    step: str,
    error: Mapping[str, Any],
    attempts: int | None,
    now: float,
) -> RequestRecord:
    """Step failed; the error becomes the record's last error."""
    current = record.step(step)
    failed = replace(
        current, state="failed", attempts=current.attempts if attempts is None else attempts
    )
    return replace(_with_step(record, step, failed, now), last_error=dict(error))


def _released(record: RequestRecord, now: float) -> RequestRecord:
    return replace(record, lease_owner=None, lease_expires_at=None, updated_at=now)


def with_retry(
    record: RequestRecord, next_retry_at: float, error: Mapping[str, Any], now: float
) -> RequestRecord:
    """Waiting for a delayed retry: lease released, delivery settled."""
    waiting = replace(
        record,
        status="waiting_retry",
        next_retry_at=next_retry_at,
        last_error=dict(error),
        unsettled_deliveries=0,
    )
    return _released(waiting, now)


def with_finish(
    record: RequestRecord,
    status: Literal["created", "failed"],
    terminal_event: bytes,
    error: Mapping[str, Any] | None,
    now: float,
) -> RequestRecord:
    """Finished with its terminal event: lease released, delivery settled."""
    finished = replace(
        record,
        status=status,
        terminal_event=terminal_event,
        last_error=dict(error) if error is not None else None,
        next_retry_at=None,
        finished_at=now,
        unsettled_deliveries=0,
    )
    return _released(finished, now)


def with_lease(record: RequestRecord, lease_seconds: float, now: float) -> RequestRecord:
    """Lease extended to ``now + lease_seconds``."""
    return replace(record, lease_expires_at=now + lease_seconds, updated_at=now)


def with_release(record: RequestRecord, settled: bool, now: float) -> RequestRecord:
    """Lease given up; the request can be claimed again at once."""
    pending = replace(
        record,
        status="pending",
        unsettled_deliveries=0 if settled else record.unsettled_deliveries,
    )
    return _released(pending, now)


def with_run(record: RequestRecord, run: Mapping[str, Any], now: float) -> RequestRecord:
    """A followed flow run appended."""
    return replace(record, runs=(*record.runs, dict(run)), updated_at=now)


def reopened(record: RequestRecord, now: float) -> RequestRecord:
    """A failed request made ready to be re-driven from the step that failed."""
    if record.status != "failed":
        raise LedgerStateError(
            f"request {record.request_id} is {record.status}; only failed requests are replayed"
        )
    steps = {
        name: StepRecord(name=step.name) if step.state == "failed" else step
        for name, step in record.steps.items()
    }
    return replace(
        record,
        status="pending",
        steps=steps,
        terminal_event=None,
        finished_at=None,
        next_retry_at=None,
        unsettled_deliveries=0,
        updated_at=now,
    )

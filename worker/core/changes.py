"""How a request's record changes: claims, and every fenced write as a value with ``apply`` (pure).

The engine's machine decides a change and applies it to its own copy of the record; the ledger
applies the same change to the stored record in one write (several changes may share one write).
A change never reads a clock: the time is an argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, Protocol, TypeVar

from worker.core.record import (
    ClaimOutcome,
    Operation,
    RequestRecord,
    StepOutcome,
    StepRecord,
)
from worker.core.steps import DEPENDENCIES

_Record = TypeVar("_Record", RequestRecord, StepRecord)
_FIELDS: dict[type, frozenset[str]] = {
    cls: frozenset(field.name for field in fields(cls)) for cls in (RequestRecord, StepRecord)
}


def replace(record: _Record, **changes: Any) -> _Record:
    """``dataclasses.replace`` for the hot path, three times as fast.

    It copies the instance's ``__dict__`` and skips ``__init__`` (the records have no validation);
    unknown field names are still refused.
    """
    if not _FIELDS[type(record)].issuperset(changes):
        raise TypeError(f"unknown fields {sorted(set(changes) - _FIELDS[type(record)])}")
    values = dict(record.__dict__)
    values.update(changes)
    copy = object.__new__(type(record))
    object.__setattr__(copy, "__dict__", values)
    return copy


class Change(Protocol):
    """One fenced change of a leased record."""

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """The record after the change."""


def apply_all(record: RequestRecord, changes: Sequence[Change], now: float) -> RequestRecord:
    """The record after each change in turn (what one ledger write stores)."""
    for change in changes:
        record = change.apply(record, now)
    return record


def _with_step(record: RequestRecord, name: str, step: StepRecord, now: float) -> RequestRecord:
    return replace(record, steps={**record.steps, name: step}, updated_at=now)


def _released(record: RequestRecord, now: float) -> RequestRecord:
    return replace(record, lease_owner=None, lease_expires_at=None, updated_at=now)


@dataclass(frozen=True, slots=True)
class StartSteps:
    """Intents: each step started, with the name its create will use.

    Written before any of these steps' creates is sent, so that a later delivery finding a
    step started looks its resource up before creating it. Attempts are counted when their
    outcome is known (``CompleteStep``, ``FailStep``, ``CountAttempt``).
    """

    steps: tuple[tuple[str, str | None], ...]

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Mark the steps started."""
        steps = dict(record.steps)
        for step, name in self.steps:
            current = steps.get(step, StepRecord())
            steps[step] = replace(
                current, state="started", name=name if name is not None else current.name
            )
        return replace(record, steps=steps, updated_at=now)


@dataclass(frozen=True, slots=True)
class CompleteStep:
    """A step done with what it created, found or reused."""

    step: str
    resource_id: str
    outcome: StepOutcome
    attempts: int
    duration: float

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Mark the step done."""
        done = replace(
            record.step(self.step),
            state="done",
            resource_id=self.resource_id,
            outcome=self.outcome,
            attempts=self.attempts,
            duration_seconds=self.duration,
        )
        return _with_step(record, self.step, done, now)


@dataclass(frozen=True, slots=True)
class FailStep:
    """A step failed for good; the error becomes the record's last error."""

    step: str
    error: Mapping[str, Any]
    attempts: int | None = None

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Mark the step failed."""
        current = record.step(self.step)
        attempts = current.attempts if self.attempts is None else self.attempts
        failed = replace(current, state="failed", attempts=attempts)
        return replace(_with_step(record, self.step, failed, now), last_error=dict(self.error))


@dataclass(frozen=True, slots=True)
class CountAttempt:
    """One more attempt of a step whose outcome is a retry."""

    step: str

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Count the attempt."""
        current = record.step(self.step)
        return _with_step(record, self.step, replace(current, attempts=current.attempts + 1), now)


@dataclass(frozen=True, slots=True)
class ScheduleRetry:
    """Waiting for a delayed retry: lease released, delivery settled."""

    at: float
    error: Mapping[str, Any]

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Wait for the retry."""
        waiting = replace(
            record,
            status="waiting_retry",
            next_retry_at=self.at,
            last_error=dict(self.error),
            unsettled_deliveries=0,
        )
        return _released(waiting, now)


@dataclass(frozen=True, slots=True)
class Finish:
    """Finished with its encoded terminal event: lease released, delivery settled."""

    status: Literal["created", "failed"]
    terminal_event: bytes
    error: Mapping[str, Any] | None = None

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """End the request."""
        finished = replace(
            record,
            status=self.status,
            terminal_event=self.terminal_event,
            last_error=dict(self.error) if self.error is not None else None,
            next_retry_at=None,
            finished_at=now,
            unsettled_deliveries=0,
        )
        return _released(finished, now)


@dataclass(frozen=True, slots=True)
class RenewLease:
    """The lease extended to ``now + seconds``."""

    seconds: float

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Extend the lease."""
        return replace(record, lease_expires_at=now + self.seconds, updated_at=now)


@dataclass(frozen=True, slots=True)
class Release:
    """The lease given up; ``settled`` resets the poison counter; ``error`` says why, if known."""

    settled: bool
    error: Mapping[str, Any] | None = None

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Give the lease up; the request can be claimed again at once."""
        pending = replace(
            record,
            status="pending",
            unsettled_deliveries=0 if self.settled else record.unsettled_deliveries,
            last_error=dict(self.error) if self.error is not None else record.last_error,
        )
        return _released(pending, now)


@dataclass(frozen=True, slots=True)
class BeginRollback:
    """The request failed and rolls back what it made; ``error`` is why it failed."""

    error: Mapping[str, Any]

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Switch the operation to rollback."""
        return replace(record, operation="rollback", last_error=dict(self.error), updated_at=now)


@dataclass(frozen=True, slots=True)
class StepDeleted:
    """A rollback deleted what the step made (or found it gone)."""

    step: str

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Mark the step deleted."""
        return _with_step(record, self.step, replace(record.step(self.step), state="deleted"), now)


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


def start_fresh(
    record: RequestRecord, intents: Sequence[tuple[str, str | None]], now: float
) -> tuple[RequestRecord, tuple[str, ...]]:
    """The intents of the steps that never started, written; and which those were.

    A claim writes them with the lease, so the first creates need no write of their own.
    """
    fresh = tuple(
        (step, name)
        for step, name in intents
        if record.step(step).state == "pending" and record.step(step).name is None
    )
    if not fresh:
        return record, ()
    return StartSteps(fresh).apply(record, now), tuple(step for step, _ in fresh)


def fence_matches(record: RequestRecord, fence: int) -> bool:
    """True when ``fence`` is the token of the lease currently held on the record."""
    return record.fence == fence and record.lease_owner is not None


def reopened(record: RequestRecord, now: float) -> RequestRecord:
    """A failed request made ready to be re-driven from the step that failed.

    Failed steps, and steps whose resources a rollback deleted, go back to pending (keeping the
    name, so the re-driven step looks its resource up before creating); so does a step built on
    a deleted one (a mapping set into a deleted schema: mapping sets cannot be deleted, and the
    old one stays behind); other done steps are kept. Raises ``ValueError`` unless the request
    failed.
    """
    if record.status != "failed":
        raise ValueError(
            f"request {record.request_id} is {record.status}; only failed requests are replayed"
        )
    redo = {name for name, step in record.steps.items() if step.state in ("failed", "deleted")}
    redo |= _built_on(redo, record)
    steps = {
        name: StepRecord(name=step.name) if name in redo else step
        for name, step in record.steps.items()
    }
    operation: Operation = "create"
    return replace(
        record,
        status="pending",
        operation=operation,
        steps=steps,
        terminal_event=None,
        finished_at=None,
        next_retry_at=None,
        unsettled_deliveries=0,
        updated_at=now,
    )


def _built_on(deleted: set[str], record: RequestRecord) -> set[str]:
    """The steps whose resources were made from a deleted one, directly or through others."""
    gone = {name for name in deleted if record.step(name).state == "deleted"}
    built: set[str] = set()
    changed = True
    while changed:
        changed = False
        for step, needs in DEPENDENCIES.items():
            if step.value in built or step.value not in record.steps:
                continue
            if any(need.value in gone | built for need in needs):
                built.add(step.value)
                changed = True
    return built


def with_run(record: RequestRecord, run: Mapping[str, Any], now: float) -> RequestRecord:
    """A followed flow run appended."""
    return replace(record, runs=(*record.runs, dict(run)), updated_at=now)

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
    Operation,
    RequestRecord,
    StepOutcome,
    StepRecord,
    StepState,
)
from worker.core.steps import built_on

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
class StepUnapplied:
    """A started step's create was refused before it was applied (the gateway's 429).

    Its intent stands; the next attempt creates at once instead of looking the resource up.
    """

    step: str

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Mark the step's create as not applied (only a started step: nothing else changes)."""
        current = record.step(self.step)
        if current.state != "started":
            return record
        return _with_step(record, self.step, replace(current, state="unapplied"), now)


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
    """Finished with its encoded terminal event: lease released, delivery settled.

    ``created`` and ``updated`` make the current revision the applied one (the ledger copies the
    content itself, in the same write).
    """

    status: Literal["created", "updated", "failed", "deleted"]
    terminal_event: bytes
    error: Mapping[str, Any] | None = None

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """End the command in progress."""
        applied = self.status in ("created", "updated")
        finished = replace(
            record,
            status=self.status,
            terminal_event=self.terminal_event,
            last_error=dict(self.error) if self.error is not None else None,
            next_retry_at=None,
            finished_at=now,
            unsettled_deliveries=0,
            applied_revision=record.revision if applied else record.applied_revision,
            applied_json=record.request_json if applied else record.applied_json,
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
    """A rollback or a deletion deleted what the step made (or found it gone).

    ``attempts``: a deletion counts its calls in the step (its creation's count is history);
    ``resource_id``: what was deleted, when a look-up found it (the completion was lost).
    """

    step: str
    attempts: int | None = None
    resource_id: str | None = None

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Mark the step deleted."""
        return _ended(record, self, "deleted", now)


@dataclass(frozen=True, slots=True)
class StepKept:
    """A deletion left what the step made: another dataflow still uses it."""

    step: str
    attempts: int | None = None
    resource_id: str | None = None

    def apply(self, record: RequestRecord, now: float) -> RequestRecord:
        """Mark the step kept."""
        return _ended(record, self, "kept", now)


def _ended(
    record: RequestRecord, change: StepDeleted | StepKept, state: StepState, now: float
) -> RequestRecord:
    step = record.step(change.step)
    ended = replace(
        step,
        state=state,
        attempts=step.attempts if change.attempts is None else change.attempts,
        resource_id=change.resource_id or step.resource_id,
    )
    return _with_step(record, change.step, ended, now)


def fence_matches(record: RequestRecord, fence: int) -> bool:
    """True when ``fence`` is the token of the lease currently held on the record."""
    return record.fence == fence and record.lease_owner is not None


def reopened(record: RequestRecord, now: float) -> RequestRecord:
    """A failed command made ready to be re-driven from the step that failed (``dlq replay``).

    A creation or an update: failed steps, and steps whose resources a rollback deleted, go back
    to pending (keeping the name, so the re-driven step looks its resource up before creating,
    and a flow's id, so a failed patch is applied again); so does a step built on a deleted one
    (a mapping set into a deleted schema: mapping sets cannot be deleted, and the old one stays
    behind); other done steps are kept. A deletion goes on deleting: a step whose deletion
    failed still holds its resource. Raises ``ValueError`` unless the command failed.
    """
    if record.status != "failed":
        raise ValueError(
            f"request {record.request_id} is {record.status}; only failed requests are replayed"
        )
    operation: Operation
    if record.operation == "delete":
        operation = "delete"
        steps = {
            name: replace(step, state="done") if step.state == "failed" and step.outcome else step
            for name, step in record.steps.items()
        }
    else:
        operation = "update" if record.applied_revision is not None else "create"
        redo = {name for name, step in record.steps.items() if step.state in ("failed", "deleted")}
        gone = {name for name in redo if record.step(name).state == "deleted"}
        redo |= built_on(gone, record.steps)
        steps = {
            name: _redo(name, step) if name in redo else step for name, step in record.steps.items()
        }
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


def _redo(name: str, step: StepRecord) -> StepRecord:
    """A step to run again: a flow that exists (a failed patch) keeps its id."""
    keep = step.resource_id if name == "dataflow" and step.state == "failed" else None
    return StepRecord(name=step.name, resource_id=keep)


def with_run(record: RequestRecord, run: Mapping[str, Any], now: float) -> RequestRecord:
    """A followed flow run appended."""
    return replace(record, runs=(*record.runs, dict(run)), updated_at=now)

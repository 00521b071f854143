"""The ledger's writes by name, for tests and benchmarks that set a record up step by step.

Each is one fenced ``Ledger.apply`` of the matching change of :mod:`worker.core.changes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from worker.core.changes import (
    Change,
    CompleteStep,
    FailStep,
    Finish,
    Release,
    RenewLease,
    ScheduleRetry,
    StartSteps,
)
from worker.core.record import StepOutcome
from worker.ledger import Ledger


def record_intent(
    ledger: Ledger,
    request_id: str,
    fence: int,
    step: str,
    name: str | None = None,
    *,
    now: float | None = None,
) -> int:
    """Mark ``step`` started with the name its create uses; return its attempts so far."""
    record = ledger.apply(request_id, fence, [StartSteps(((step, name),))], now)
    return record.step(step).attempts


def complete_step(
    ledger: Ledger,
    request_id: str,
    fence: int,
    step: str,
    resource_id: str,
    outcome: StepOutcome,
    attempts: int,
    duration: float,
    *,
    then: tuple[str, str | None] | None = None,
    now: float | None = None,
) -> int | None:
    """Mark ``step`` done, and start ``then`` in the same write; return its attempts."""
    changes: list[Change] = [CompleteStep(step, resource_id, outcome, attempts, duration)]
    if then is not None:
        changes.append(StartSteps((then,)))
    record = ledger.apply(request_id, fence, changes, now)
    return None if then is None else record.step(then[0]).attempts


def fail_step(
    ledger: Ledger,
    request_id: str,
    fence: int,
    step: str,
    error: Mapping[str, Any],
    attempts: int | None = None,
    *,
    now: float | None = None,
) -> None:
    """Mark ``step`` failed with ``error`` as the last error."""
    ledger.apply(request_id, fence, [FailStep(step, error, attempts)], now)


def schedule_retry(
    ledger: Ledger,
    request_id: str,
    fence: int,
    at: float,
    error: Mapping[str, Any],
    *,
    now: float | None = None,
) -> None:
    """Wait for a retry at ``at``; the lease is released."""
    ledger.apply(request_id, fence, [ScheduleRetry(at, error)], now)


def finish(
    ledger: Ledger,
    request_id: str,
    fence: int,
    status: Literal["created", "updated", "failed", "deleted"],
    terminal_event: bytes,
    error: Mapping[str, Any] | None = None,
    *,
    now: float | None = None,
) -> None:
    """End the request with its terminal event."""
    ledger.apply(request_id, fence, [Finish(status, terminal_event, error)], now)


def renew_lease(
    ledger: Ledger, request_id: str, fence: int, seconds: float, *, now: float | None = None
) -> None:
    """Extend the lease."""
    ledger.apply(request_id, fence, [RenewLease(seconds)], now)


def release(
    ledger: Ledger, request_id: str, fence: int, settled: bool, *, now: float | None = None
) -> None:
    """Give the lease up."""
    ledger.apply(request_id, fence, [Release(settled)], now)

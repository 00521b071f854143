"""The ledger interface: record types, claim outcomes and the operations every variant provides.

Times are epoch seconds (floats). Every operation that depends on the time takes ``now``; when it
is left out the ledger reads its own clock (injectable at construction, for tests).

A request's life in the ledger::

    claim ──> running ──record_intent/complete_step/fail_step──> running
                 │──schedule_retry──> waiting_retry ──claim──> running
                 │──release──> pending (or left running with an expired lease after a crash)
                 └──finish──> created | failed ──reopen_for_replay──> pending

Fenced writes carry the token that ``claim`` returned; once another worker has taken the lease
over, the token is stale and the write raises :class:`~worker.errors.LeaseLostError`.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from worker.errors import LedgerError

RequestStatus = Literal["pending", "running", "waiting_retry", "created", "failed"]
StepState = Literal["pending", "started", "done", "failed"]
StepOutcome = Literal["created", "found", "reused"]
ClaimOutcome = Literal["acquired", "finished", "conflict", "busy"]

FINISHED: frozenset[str] = frozenset({"created", "failed"})


class UnknownRequestError(LedgerError):
    """The ledger holds no record for this request id."""

    retryable = False


class LedgerStateError(LedgerError):
    """The operation does not apply to the record in its current status."""

    retryable = False


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step's state: what it created or found, the name a started create uses, attempts."""

    state: StepState = "pending"
    resource_id: str | None = None
    name: str | None = None
    attempts: int = 0
    outcome: StepOutcome | None = None
    duration_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """Everything the ledger knows about one request (one record per ``request_id``)."""

    request_id: str
    content_hash: str
    request_json: str
    first_event_id: str
    status: RequestStatus
    created_at: float
    updated_at: float
    steps: Mapping[str, StepRecord] = field(default_factory=dict)
    deliveries: int = 0
    unsettled_deliveries: int = 0
    last_error: Mapping[str, Any] | None = None
    next_retry_at: float | None = None
    terminal_event: bytes | None = None
    finished_at: float | None = None
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    fence: int = 0
    runs: tuple[Mapping[str, Any], ...] = ()

    @property
    def attempts(self) -> int:
        """Attempts of all steps together (the ``attempts`` of ``DataflowCreated``)."""
        return sum(step.attempts for step in self.steps.values())

    @property
    def finished(self) -> bool:
        """True once the request has ended in ``created`` or ``failed``."""
        return self.status in FINISHED

    def step(self, name: str) -> StepRecord:
        """The state of step ``name`` (a fresh pending step when it never ran)."""
        return self.steps.get(name, StepRecord())


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``claim`` decided; ``fence`` is set only when the lease was ``acquired``.

    ``record`` is the stored record after the claim; for ``conflict`` and ``busy`` it is the
    record as another request or worker left it, untouched.
    """

    outcome: ClaimOutcome
    record: RequestRecord
    fence: int | None = None


class Ledger(abc.ABC):
    """The durable step ledger; thread-safe: the worker's pool calls it concurrently."""

    @abc.abstractmethod
    def claim(
        self,
        request_id: str,
        content_hash: str,
        request_json: str,
        event_id: str,
        owner: str,
        lease_seconds: float,
        now: float | None = None,
    ) -> Claim:
        """Atomically create or look at the record and take its lease when it can run now.

        New request: inserted, ``acquired``. Same id, other content hash: ``conflict`` (nothing
        changes). Finished: ``finished`` (a duplicate). Any unexpired lease (another worker or
        another thread of this one): ``busy``. Otherwise the lease is taken (fence + 1), the
        delivery counted (``deliveries`` and ``unsettled_deliveries`` + 1): ``acquired``.
        """

    @abc.abstractmethod
    def record_intent(
        self,
        request_id: str,
        fence: int,
        step: str,
        name: str | None = None,
        *,
        now: float | None = None,
    ) -> int:
        """Mark ``step`` started, store the name a create will use, count an attempt; return it."""

    @abc.abstractmethod
    def complete_step(
        self,
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
        """Mark ``step`` done with its resource id, outcome, attempts and duration.

        ``then`` (the next step and the name it will create) records that step's intent in the
        same write, as ``record_intent`` would; its attempts are returned (None without it).
        """

    @abc.abstractmethod
    def fail_step(
        self,
        request_id: str,
        fence: int,
        step: str,
        error: Mapping[str, Any],
        attempts: int | None = None,
        *,
        now: float | None = None,
    ) -> None:
        """Mark ``step`` failed; store ``error`` (kind, message, status, code) as the last error."""

    @abc.abstractmethod
    def schedule_retry(
        self,
        request_id: str,
        fence: int,
        next_retry_at: float,
        error: Mapping[str, Any],
        *,
        now: float | None = None,
    ) -> None:
        """Set ``waiting_retry`` until ``next_retry_at``; release the lease; settle the delivery."""

    @abc.abstractmethod
    def finish(
        self,
        request_id: str,
        fence: int,
        status: Literal["created", "failed"],
        terminal_event: bytes,
        error: Mapping[str, Any] | None = None,
        *,
        now: float | None = None,
    ) -> None:
        """End the request with its encoded terminal event; release the lease; settle."""

    @abc.abstractmethod
    def renew_lease(
        self, request_id: str, fence: int, lease_seconds: float, *, now: float | None = None
    ) -> None:
        """Extend the lease to ``now + lease_seconds`` (raises ``LeaseLostError`` when stale)."""

    @abc.abstractmethod
    def release(
        self, request_id: str, fence: int, settled: bool, *, now: float | None = None
    ) -> None:
        """Give the lease up (status back to ``pending``); ``settled`` resets the poison counter."""

    @abc.abstractmethod
    def record_run(
        self, request_id: str, run: Mapping[str, Any], *, now: float | None = None
    ) -> None:
        """Append a followed flow run (``DataflowRunCompleted`` data) to a request's record."""

    @abc.abstractmethod
    def get(self, request_id: str) -> RequestRecord | None:
        """The record of ``request_id``, or ``None``."""

    @abc.abstractmethod
    def summary(self) -> dict[str, int]:
        """How many records are in each status (statuses without records are left out)."""

    @abc.abstractmethod
    def list(
        self, status: RequestStatus | None = None, limit: int = 100
    ) -> builtins.list[RequestRecord]:
        """Records, most recently updated first, optionally only those in ``status``."""

    @abc.abstractmethod
    def reopen_for_replay(self, request_id: str, *, now: float | None = None) -> RequestRecord:
        """Turn a failed request back to ``pending`` so ``dlq replay`` re-drives it.

        Failed steps go back to pending with their attempts reset; done steps are kept (what
        they created is reused); the terminal event is cleared so the re-driven request ends in
        a new one. Raises ``UnknownRequestError`` or ``LedgerStateError`` (not failed).
        """

    @abc.abstractmethod
    def prune(self, older_than: float) -> int:
        """Delete records finished before ``older_than``; return how many were deleted."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close every connection; the ledger cannot be used afterwards."""

    def __enter__(self) -> Self:
        """Use the ledger as a context manager that closes it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the ledger."""
        self.close()

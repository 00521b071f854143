"""What the ledger knows about one request: its record and its steps, as immutable values (pure).

A request's life in the ledger::

    claim ──> running ──changes (intents, completions, failures)──> running
                 │──ScheduleRetry──> waiting_retry ──claim──> running
                 │──Release──> pending (or left running with an expired lease after a crash)
                 │──BeginRollback──> running, operation "rollback" ──StepDeleted...──> finish
                 └──Finish──> created | failed ──reopen (replay)──> pending

The engine's machine (:mod:`worker.core.machine`) and the ledger's storage variants apply the same
changes (:mod:`worker.core.changes`) to these records, so what the engine believes and what the
database holds cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

RequestStatus = Literal["pending", "running", "waiting_retry", "created", "failed"]
StepState = Literal["pending", "started", "done", "failed", "deleted"]
StepOutcome = Literal["created", "found", "reused"]
Operation = Literal["create", "rollback"]
ClaimOutcome = Literal["acquired", "finished", "conflict", "busy"]

FINISHED: frozenset[str] = frozenset({"created", "failed"})
STATUSES: tuple[RequestStatus, ...] = ("pending", "running", "waiting_retry", "created", "failed")


@dataclass(frozen=True)
class StepRecord:
    """One step's state: what it created or found, the name a started create uses, attempts.

    ``deleted``: a rollback removed what the step had made; a replay makes it again.
    """

    state: StepState = "pending"
    resource_id: str | None = None
    name: str | None = None
    attempts: int = 0
    outcome: StepOutcome | None = None
    duration_seconds: float | None = None


@dataclass(frozen=True)
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
    operation: Operation = "create"

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

    def done(self) -> dict[str, str]:
        """The resource id of every step that is done (created, found or reused)."""
        return {
            name: step.resource_id
            for name, step in self.steps.items()
            if step.state == "done" and step.resource_id is not None
        }


@dataclass(frozen=True, slots=True)
class Claim:
    """What claiming a record decided; ``fence`` is set only when the lease was ``acquired``.

    ``record`` is the stored record after the claim; for ``conflict`` and ``busy`` it is the
    record as another request or worker left it, untouched. ``started``: the steps whose intents
    this claim wrote (never started before: their creates need no look-up).
    """

    outcome: ClaimOutcome
    record: RequestRecord
    fence: int | None = None
    started: tuple[str, ...] = ()

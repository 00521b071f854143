"""What the ledger knows about one request: its record and its steps, as immutable values (pure).

A ``request_id`` names one dataflow for its whole life (contract 2.4). Its record holds the latest
revision received, the one last applied, and the operation in progress::

    claim ──> running ──changes (intents, completions, failures)──> running
                 │──ScheduleRetry──> waiting_retry ──claim──> running
                 │──Release──> pending (or left running with an expired lease after a crash)
                 │──BeginRollback──> running, operation "rollback" ──StepDeleted...──> finish
                 └──Finish──> created | updated | failed | deleted ──reopen (replay)──> pending

    a higher revision ──claim──> running, operation "update" (or "create" when nothing was
                                 applied yet, or after a deletion); the changed steps reopened
    a deletion ──claim──> running, operation "delete" ──StepDeleted / StepKept...──> deleted

The engine's machine (:mod:`worker.core.machine`) and the ledger's storage variants apply the same
changes (:mod:`worker.core.changes`) to these records, so what the engine believes and what the
database holds cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

RequestStatus = Literal[
    "pending", "running", "waiting_retry", "created", "updated", "failed", "deleted"
]
StepState = Literal["pending", "started", "unapplied", "done", "failed", "deleted", "kept"]
StepOutcome = Literal["created", "found", "reused", "updated", "enabled", "disabled"]
Operation = Literal["create", "rollback", "update", "delete"]
ClaimOutcome = Literal["acquired", "finished", "conflict", "busy", "superseded", "unknown"]

FINISHED: frozenset[str] = frozenset({"created", "updated", "failed", "deleted"})
STATUSES: tuple[RequestStatus, ...] = (
    "pending",
    "running",
    "waiting_retry",
    "created",
    "updated",
    "failed",
    "deleted",
)
PRUNABLE: frozenset[str] = frozenset({"failed", "deleted"})
"""Finished records that pruning may delete: a created dataflow's record is kept for its life."""
APPLIED: frozenset[str] = frozenset({"created", "updated"})
"""The statuses of a request whose dataflow exists as its last applied revision left it."""


@dataclass(frozen=True)
class StepRecord:
    """One step's state: what it created or found, the name a started create uses, attempts.

    ``started``: its create may have been sent (look it up before creating again);
    ``unapplied``: no create of it was applied (refused with a 429, or never sent: it waited for
    a step that failed); its intent is written again and it is created at once. ``deleted``: a
    rollback or a deletion removed what the step had made; a replay makes it again. ``kept``: a
    deletion left it because another dataflow still uses it.
    """

    state: StepState = "pending"
    resource_id: str | None = None
    name: str | None = None
    attempts: int = 0
    outcome: StepOutcome | None = None
    duration_seconds: float | None = None


def never_sent(step: StepRecord) -> bool:
    """True when no create of the step can have been applied: it never started, or its last
    create was refused before it was applied. Its intent is (re)written before its create."""
    return (step.state == "pending" and step.name is None) or step.state == "unapplied"


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
    revision: int = 1
    started_at: float | None = None
    applied_revision: int | None = None
    applied_json: str = ""
    deletion_reason: str | None = None

    @property
    def command_started_at(self) -> float:
        """When the command in progress (first request, a revision, a deletion) was accepted."""
        return self.created_at if self.started_at is None else self.started_at

    @property
    def attempts(self) -> int:
        """Attempts of all steps together (the ``attempts`` of ``DataflowCreated``)."""
        return sum(step.attempts for step in self.steps.values())

    @property
    def finished(self) -> bool:
        """True once the command in progress has ended (created, updated, failed, deleted)."""
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
    this claim wrote (never started before: their creates need no look-up). ``fields``: for a
    ``conflict``, the differing fields (``revision`` for a stale revision); ``fixed`` when they
    are fields a revision may not change. ``superseded``: the message belongs to a command that
    a later one replaced (acknowledged without an event). ``unknown``: a deletion of a request
    the ledger never saw.
    """

    outcome: ClaimOutcome
    record: RequestRecord
    fence: int | None = None
    started: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    fixed: bool = False

"""The step machine's vocabulary: what it observes, the effects it decides, its state (pure).

The engine feeds observations to the machine (:mod:`worker.core.machine`) and executes the
effects it returns, in order (:mod:`worker.engine.runner`); the machine's state is the ledger
record plus what runs in the current delivery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from messages.envelope import Payload
from worker.core.changes import Change, apply_all
from worker.core.delivery import Settle
from worker.core.record import RequestRecord, StepOutcome
from worker.core.steps import Step

CallMode = Literal["create", "lookup", "reuse", "delete", "update"]
FailureKind = Literal["retryable", "outcome_unknown", "rejected", "authentication"]
InterruptKind = Literal["shutdown", "lease_lost", "ledger", "broker", "crash"]
DeleteResult = Literal["deleted", "absent", "in_use", "refused"]
Ending = Literal["created", "updated", "failed", "deleted"]


# -- observations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    """A Platform call failed; the breaker's state is the one after counting this failure."""

    kind: FailureKind
    info: Mapping[str, Any]  # message, status, code: the ledger's and the event's error
    retry_after_seconds: float | None = None
    breaker_open: bool = False
    opened_breaker: bool = False
    jitter: float = 0.0
    not_applied: bool = False  # a create refused before it was applied (429): no look-up next

    @property
    def retryable(self) -> bool:
        """True when the same call may succeed later."""
        return self.kind in ("retryable", "outcome_unknown")


@dataclass(frozen=True, slots=True)
class Begin:
    """A delivery was claimed and the request may run; ``fresh``: intents the claim wrote."""

    now: float
    fresh: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Succeeded:
    """A step's call returned its resource: created, reused (a look-up), updated, its state set."""

    step: Step
    resource_id: str
    outcome: StepOutcome
    seconds: float
    now: float


@dataclass(frozen=True, slots=True)
class LookedUp:
    """A look-up by name (or content) ended: the resource's id, or None."""

    step: Step
    resource_id: str | None
    seconds: float
    now: float


@dataclass(frozen=True, slots=True)
class Failed:
    """A step's call failed."""

    step: Step
    failure: Failure
    now: float


@dataclass(frozen=True, slots=True)
class Deleted:
    """A deletion ended: ``deleted`` (or found gone), ``absent`` (a started step made nothing),
    ``in_use`` (another dataflow uses it), ``refused`` (a rollback's deletion failed).
    ``resource_id``: what was deleted (found by name when the step's completion was lost)."""

    step: Step
    result: DeleteResult
    resource_id: str | None
    seconds: float
    now: float


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The request must stop: a shutdown (let calls end), or its lease, ledger or broker failed."""

    why: InterruptKind
    now: float


Observation = Succeeded | LookedUp | Failed | Deleted | Interrupted


# -- effects -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Write:
    """Apply the changes to the ledger in one write.

    ``pipelined``: later effects need not wait for it (a step's completion: its resource is found
    again by name if the write is lost), but writes stay in order and the delivery is not settled
    before it is durable. ``best_effort``: a failure is ignored.
    """

    changes: tuple[Change, ...]
    best_effort: bool = False
    pipelined: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    """Run a step's Platform call; its result comes back as an observation."""

    step: Step
    mode: CallMode


@dataclass(frozen=True, slots=True)
class Emit:
    """Publish an event (its confirm is awaited before the delivery is settled)."""

    payload: Payload
    event_id: str


@dataclass(frozen=True, slots=True)
class Conclude:
    """End the command: encode its terminal event, store it with ``changes`` and Finish, publish.

    ``before``: events that go out after the write and before the terminal event (the last
    step's completion, written in the same write).
    """

    status: Ending
    payload: Payload
    error: Mapping[str, Any] | None = None
    changes: tuple[Change, ...] = ()
    before: tuple[Emit, ...] = ()


@dataclass(frozen=True, slots=True)
class TripBreaker:
    """Open the circuit breaker (the worker stops taking work until a probe succeeds)."""

    reason: str


@dataclass(frozen=True, slots=True)
class CancelCalls:
    """Cancel every call still running for this request."""


@dataclass(frozen=True, slots=True)
class Republish:
    """Publish an encoded event again as it is (same id, source and time)."""

    body: bytes


@dataclass(frozen=True, slots=True)
class Done:
    """Settle the delivery.

    ``finished``: how the command ended for the metrics (``created``, ``updated``, ``deleted``,
    ``failed``, ``duplicate``, ``conflict``), None while it goes on; ``retried``: the step a
    retry was scheduled for.
    """

    settle: Settle
    finished: str | None = None
    retried: Step | None = None


Effect = Write | Call | Emit | Conclude | Republish | TripBreaker | CancelCalls | Done


# -- state -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """The machine's view of one request: the ledger record and what runs in this delivery."""

    record: RequestRecord
    running: frozenset[Step] = frozenset()
    failure: tuple[Step, Failure] | None = None
    unknown: Mapping[Step, Failure] = field(default_factory=dict)
    stopping: bool = False
    removals: tuple[Step, ...] = ()
    failed_step: Step | None = None  # while rolling back: the step the request failed at
    fresh: frozenset[Step] = frozenset()  # started in this delivery: create without a look-up
    unapplied: frozenset[Step] = frozenset()  # creates refused before they were applied
    called: frozenset[Step] = frozenset()  # steps whose call this delivery sent
    finished: bool = False


Decision = tuple[State, list[Effect]]


def evolve(state: State, **changes: Any) -> State:
    """``dataclasses.replace`` without ``__init__`` (the state is replaced on every observation)."""
    values = dict(state.__dict__)
    values.update(changes)
    copy = object.__new__(State)
    object.__setattr__(copy, "__dict__", values)
    return copy


def applied(state: State, changes: Sequence[Change], now: float) -> State:
    """The state with ``changes`` applied to its record."""
    return evolve(state, record=apply_all(state.record, changes, now)) if changes else state


def without(state: State, step: Step) -> dict[Step, Failure]:
    """The failures of unknown outcome, but ``step``'s."""
    return {s: f for s, f in state.unknown.items() if s is not step}


def done(state: State, effects: list[Effect]) -> Decision:
    """The last decision of a delivery: nothing more is observed."""
    return evolve(state, finished=True), effects

"""The step machine: given a request's record and what just happened, what happens next (pure).

One function decides for every operation (create; rollback of a failed create): the engine feeds
it observations (a step's result, a failure with its class, a shutdown, a lost lease) and
executes the effects it returns, in order; nothing here touches the network, the broker, the
ledger or a clock. Each :class:`Write` is durable before the next effect runs, which makes a
crash at any point harmless (docs/adr/0010-step-machine.md):

* every create's intent (its name) is durable before the first create is sent: the claim
  writes the intents of the steps never started; a step whose intent exists from an earlier
  delivery looks its resource up first and adopts it (``found``); after a create whose answer
  was lost it looks up again;
* a step's completion is pipelined: later effects need not wait for its write (a lost one is
  found again by name), but the delivery is settled only once every write is durable;
* independent steps run side by side (the source connection beside the schema chain);
* a failure lets the running branches end, then retries (a delayed copy), hands the request back
  (the breaker is open or the credentials are refused), or fails it, rolling back first when the
  request asks for it. Rollback's deletions are recorded step by step, so a replay creates again
  what was deleted, and a crash in the middle of a rollback resumes it.

Retry policy, poison detection and the breaker's state are inputs, never side effects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from messages.envelope import Payload
from worker.core import outcomes
from worker.core.changes import (
    BeginRollback,
    Change,
    CompleteStep,
    CountAttempt,
    FailStep,
    Release,
    ScheduleRetry,
    StartSteps,
    StepDeleted,
    apply_all,
)
from worker.core.delivery import ACK, REQUEUE, Settle, delay, park
from worker.core.follow import follow_settle
from worker.core.record import RequestRecord, StepOutcome
from worker.core.retry import RetryPolicy, decide
from worker.core.steps import DELETABLE, DEPENDENCIES, Step, rollback_plan

CallMode = Literal["create", "lookup", "reuse", "delete"]
FailureKind = Literal["retryable", "outcome_unknown", "rejected", "authentication"]
InterruptKind = Literal["shutdown", "lease_lost", "ledger", "broker", "crash"]


# -- what the machine knows before it starts ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Facts:
    """What stays fixed while a request runs: its plan, names, and what it asks for."""

    request_id: str
    plan: tuple[Step, ...]
    reuses: frozenset[Step]
    names: Mapping[Step, str | None]
    rollback: bool = False
    follow: bool = False
    follow_first_wait: float = 16.0


@dataclass(frozen=True, slots=True)
class Limits:
    """The worker's policies: retries, poison, early copies, hand-backs."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    poison_deliveries: int = 5
    early_tolerance: float = 0.5  # a retry copy this early runs anyway (tiers never fire early)
    handback_seconds: float = 2.0


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
    """A step's call returned its resource (``created``, or ``reused`` for a look-up)."""

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
    """A rollback's deletion ended: deleted (or already gone), or refused."""

    step: Step
    gone: bool
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
    """End the request: encode its terminal event, store it with ``changes`` and Finish, publish.

    ``before``: events that go out after the write and before the terminal event (the last
    step's completion, written in the same write).
    """

    status: Literal["created", "failed"]
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

    ``finished``: how the request ended for the metrics (``created``, ``failed``, ``duplicate``,
    ``conflict``), None while it goes on; ``retried``: the step a retry was scheduled for.
    """

    settle: Settle
    finished: str | None = None
    retried: Step | None = None


Effect = Write | Call | Emit | Conclude | Republish | TripBreaker | CancelCalls | Done


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
    finished: bool = False


Decision = tuple[State, list[Effect]]


class Machine:
    """Decides the effects of each observation for one request (bound to its facts and limits)."""

    def __init__(self, facts: Facts, limits: Limits) -> None:
        self.facts = facts
        self.limits = limits
        # What each planned step needs, among the planned steps (Step is a str: it keys the
        # record's steps as their names do).
        self._needs = {
            step: tuple(dep for dep in DEPENDENCIES[step] if dep in facts.plan)
            for step in facts.plan
        }

    # -- entry points ----------------------------------------------------------------------

    def begin(self, record: RequestRecord, observation: Begin) -> Decision:
        """The first decision for a claimed request."""
        state, now = State(record), observation.now
        limits = self.limits
        if record.unsettled_deliveries > limits.poison_deliveries:
            message = (
                f"delivered {record.unsettled_deliveries} times without finishing "
                f"(limit {limits.poison_deliveries})"
            )
            return self._fail(state, current_step(record, self.facts.plan), poison(message), now)
        if record.operation == "rollback":
            return self._rollback(state, self._failed_step(record), dict(record.last_error or {}))
        due = record.next_retry_at
        if due is not None and now < due - limits.early_tolerance:
            return state, [Write((Release(settled=True),)), Done(delay(due - now, "early"))]
        effects: list[Effect] = []
        if record.unsettled_deliveries > 1:  # a crash may have lost these events
            effects.extend(self._republish(record))
        state = _replace(state, fresh=frozenset(Step(step) for step in observation.fresh))
        intents = self.intents(record)
        if intents:  # every create's intent, durable before the first create is sent
            effects.append(Write((StartSteps(intents),)))
            fresh = state.fresh | {Step(step) for step, _ in intents}
            state = _replace(_applied(state, (StartSteps(intents),), now), fresh=fresh)
        state, calls = self._ready(state)
        effects.extend(calls)
        if not state.running:
            state, more = self._settle_when_idle(state, now)
            effects.extend(more)
        return state, effects

    def observe(self, state: State, observation: Observation) -> Decision:
        """The effects of one observation."""
        if state.finished:
            return state, []
        if isinstance(observation, Succeeded):
            return self._succeeded(state, observation)
        if isinstance(observation, LookedUp):
            return self._looked_up(state, observation)
        if isinstance(observation, Failed):
            return self._failed(state, observation)
        if isinstance(observation, Deleted):
            return self._deleted(state, observation)
        return self._interrupted(state, observation)

    # -- steps -----------------------------------------------------------------------------

    def intents(self, record: RequestRecord) -> tuple[tuple[str, str | None], ...]:
        """The intents of the steps never started (a claim may write them with the lease)."""
        facts = self.facts
        return tuple(
            (str(step), facts.names.get(step))
            for step in facts.plan
            if step not in facts.reuses
            and record.step(step).state == "pending"
            and record.step(step).name is None
        )

    def _ready(self, state: State) -> tuple[State, list[Call]]:
        """Start every step whose dependencies are done."""
        if state.failure is not None or state.stopping:
            return state, []
        record, facts = state.record, self.facts
        done = record.done()
        calls: list[Call] = []
        for step, needs in self._needs.items():
            if step in done or step in state.running:
                continue
            if not all(dep in done for dep in needs):
                continue
            if step in facts.reuses:
                calls.append(Call(step, "reuse"))
            elif step in state.fresh:
                calls.append(Call(step, "create"))
            else:  # an earlier delivery may have created it: look first
                calls.append(Call(step, "lookup"))
        running = state.running | {call.step for call in calls}
        return _replace(state, running=running), calls

    def _succeeded(self, state: State, seen: Succeeded) -> Decision:
        step = seen.step
        state = _replace(state, running=state.running - {step}, unknown=_without(state, step))
        current = state.record.step(step.value)
        found = seen.outcome == "found"  # an earlier attempt made it: counted, or lost in a crash
        attempts = max(current.attempts, 1) if found else current.attempts + 1
        complete = CompleteStep(step.value, seen.resource_id, seen.outcome, attempts, seen.seconds)
        state = _applied(state, (complete,), seen.now)
        state, calls = self._ready(state)
        changes: tuple[Change, ...] = (complete,)
        payload = outcomes.step_completed(
            self.facts.request_id,
            step.value,
            seen.resource_id,
            seen.outcome,
            attempts,
            seen.seconds,
        )
        event_id = outcomes.step_event_id(state.record.first_event_id, step.value, seen.resource_id)
        emit = Emit(payload, event_id)
        if state.running:
            return state, [Write(changes, pipelined=True), emit, *calls]
        state, more = self._settle_when_idle(state, seen.now)
        if more and isinstance(more[0], Conclude):  # the last step: one write ends the request
            conclude = more[0]
            merged = replace(conclude, changes=(*changes, *conclude.changes), before=(emit,))
            return state, [merged, *more[1:]]
        return state, [Write(changes, pipelined=True), emit, *calls, *more]

    def _looked_up(self, state: State, seen: LookedUp) -> Decision:
        step = seen.step
        if seen.resource_id is not None:
            found = Succeeded(step, seen.resource_id, "found", seen.seconds, seen.now)
            return self._succeeded(state, found)
        lost = state.unknown.get(step)
        if lost is not None:  # the create whose answer was lost did not happen: its failure stands
            state = _replace(state, running=state.running - {step}, unknown=_without(state, step))
            return self._record_failure(state, step, lost, seen.now)
        if state.failure is not None or state.stopping:
            state = _replace(state, running=state.running - {step})
            return self._settle_when_idle(state, seen.now) if not state.running else (state, [])
        # Not made: its intent is durable from the delivery that started it, so create now.
        return state, [Call(step, "create")]

    def _failed(self, state: State, seen: Failed) -> Decision:
        step, failure = seen.step, seen.failure
        if failure.kind == "outcome_unknown" and step not in state.unknown:
            # The create may have been applied: look it up before anything else.
            unknown = {**state.unknown, step: failure}
            return _replace(state, unknown=unknown), [Call(step, "lookup")]
        state = _replace(state, running=state.running - {step}, unknown=_without(state, step))
        return self._record_failure(state, step, failure, seen.now)

    def _record_failure(self, state: State, step: Step, failure: Failure, now: float) -> Decision:
        """Remember the failure; once no branch runs any more, decide what it means."""
        first = state.failure
        # The first failure decides, unless a later one says more: refused credentials, or an
        # open circuit (both hand the request back instead of retrying it).
        if first is None or _weight(failure) > _weight(first[1]):
            state = _replace(state, failure=(step, failure))
        if state.running:
            return state, []
        return self._settle_when_idle(state, now)

    def _settle_when_idle(self, state: State, now: float) -> Decision:
        """Nothing runs any more: fail, hand back, or conclude, as the state says."""
        if state.failure is not None:
            step, failure = state.failure
            return self._decide_failure(_replace(state, failure=None), step, failure, now)
        if state.stopping:
            return _done(state, [Write((Release(settled=True),)), Done(REQUEUE)])
        done = state.record.done()
        if all(step in done for step in self.facts.plan):
            return self._created(state, now)
        raise AssertionError(f"request {self.facts.request_id}: nothing runs and nothing is ready")

    # -- failures --------------------------------------------------------------------------

    def _decide_failure(self, state: State, step: Step, failure: Failure, now: float) -> Decision:
        info = dict(failure.info)
        if failure.kind == "authentication":
            error = {**info, "kind": "authentication"}
            return _done(
                state,
                [
                    TripBreaker("authentication"),
                    Write((Release(settled=True, error=error),)),
                    Done(delay(self.limits.handback_seconds, "authentication")),
                ],
            )
        if failure.retryable and failure.breaker_open:
            why = "platform_unavailable" if failure.opened_breaker else "circuit_open"
            error = {**info, "kind": "retryable"}
            release = Release(settled=True, error=error)
            return _done(
                state,
                [Write((release,)), Done(delay(self.limits.handback_seconds, why))],
            )
        attempts = state.record.step(step.value).attempts + 1
        decision = decide(
            failure,
            attempts=attempts,
            elapsed_seconds=now - state.record.created_at,
            policy=self.limits.policy,
            jitter=failure.jitter,
        )
        if decision.retry:
            retry = ScheduleRetry(now + decision.delay_seconds, {**info, "kind": "retryable"})
            return _done(
                state,
                [
                    Write((CountAttempt(step.value), retry)),
                    Done(delay(decision.delay_seconds, "retry"), retried=step),
                ],
            )
        error = {**info, "kind": decision.failure_kind or "rejected"}
        failed = FailStep(step.value, error, attempts)
        return self._fail(state, step, error, now, failed_step=failed)

    def _fail(
        self,
        state: State,
        step: Step | None,
        error: Mapping[str, Any],
        now: float,
        *,
        failed_step: FailStep | None = None,
    ) -> Decision:
        """The request failed: roll back first when asked, else conclude."""
        changes: tuple[Change, ...] = (failed_step,) if failed_step is not None else ()
        if self.facts.rollback and self._removals(apply_all(state.record, changes, now)):
            changes = (*changes, BeginRollback(error))
            state = _applied(state, changes, now)
            decision = self._rollback(state, step, error)
            return decision[0], [Write(changes), *decision[1]]
        return self._failed_conclusion(state, step, error, changes, now)

    def _rollback(self, state: State, step: Step | None, error: Mapping[str, Any]) -> Decision:
        """Delete the next of the request's own resources, newest first, or conclude."""
        removals = self._removals(state.record)
        if not removals:
            return self._failed_conclusion(state, step, error, (), 0.0)
        state = _replace(
            state, removals=removals, failed_step=step, running=frozenset({removals[0]})
        )
        return state, [Call(removals[0], "delete")]

    def _deleted(self, state: State, seen: Deleted) -> Decision:
        step = seen.step
        removals = tuple(s for s in state.removals if s is not step)
        changes: tuple[Change, ...] = (StepDeleted(step.value),) if seen.gone else ()
        state = _replace(_applied(state, changes, seen.now), removals=removals, running=frozenset())
        effects: list[Effect] = [Write(changes)] if changes else []
        if state.stopping:  # the rollback resumes from the ledger when the request comes back
            return _done(state, [*effects, Write((Release(settled=True),)), Done(REQUEUE)])
        if removals:
            state = _replace(state, running=frozenset({removals[0]}))
            return state, [*effects, Call(removals[0], "delete")]
        error = dict(state.record.last_error or {"kind": "rejected", "message": "rolled back"})
        decision = self._failed_conclusion(state, state.failed_step, error, (), seen.now)
        return decision[0], [*effects, *decision[1]]

    def _removals(self, record: RequestRecord) -> tuple[Step, ...]:
        """What a rollback deletes, newest first: what the request made, and what it may have.

        A started step may have made its resource without its completion becoming durable (a
        crash): its deletion looks the resource up by name first.
        """
        mine = owned(record)
        made = [r.step for r in rollback_plan(mine, self.facts.plan) if r.deletable]
        maybe = {
            step
            for step in self.facts.plan
            if step in DELETABLE
            and step not in self.facts.reuses
            and record.step(step).state == "started"
        }
        return tuple(step for step in reversed(self.facts.plan) if step in made or step in maybe)

    def _failed_conclusion(
        self,
        state: State,
        step: Step | None,
        error: Mapping[str, Any],
        changes: tuple[Change, ...],
        now: float,
    ) -> Decision:
        record = apply_all(state.record, changes, now)
        rolled_back = [
            s.value for s in reversed(self.facts.plan) if record.step(s.value).state == "deleted"
        ]
        payload = outcomes.failed(
            self.facts.request_id,
            step=step.value if step is not None else None,
            info=error,
            attempts=record.attempts,
            created=owned(record),
            rolled_back=rolled_back,
        )
        kind, message = str(error.get("kind")), str(error.get("message", ""))
        return _done(
            state,
            [
                Conclude("failed", payload, error, changes),
                Done(park(kind, message, self.facts.request_id), finished="failed"),
            ],
        )

    def _failed_step(self, record: RequestRecord) -> Step | None:
        for step in self.facts.plan:
            if record.step(step.value).state == "failed":
                return step
        return None

    # -- endings ---------------------------------------------------------------------------

    def _created(self, state: State, now: float) -> Decision:
        record = state.record
        resources = record.done()
        payload = outcomes.created(
            self.facts.request_id, resources, record.attempts, now - record.created_at
        )
        settle = ACK
        if self.facts.follow:
            settle = follow_settle(resources[Step.DATAFLOW.value], 1, self.facts.follow_first_wait)
        return _done(state, [Conclude("created", payload), Done(settle, finished="created")])

    def _interrupted(self, state: State, seen: Interrupted) -> Decision:
        if seen.why == "shutdown":
            state = _replace(state, stopping=True)
            return self._settle_when_idle(state, seen.now) if not state.running else (state, [])
        if seen.why == "lease_lost":  # another delivery holds the request now
            return _done(state, [CancelCalls(), Done(ACK)])
        release = Write((Release(settled=False),), best_effort=True)
        return _done(state, [CancelCalls(), release, Done(REQUEUE)])

    def _republish(self, record: RequestRecord) -> list[Effect]:
        """The StepCompleted event of every done step, as first published."""
        effects: list[Effect] = []
        for name, step in record.steps.items():
            if step.state != "done" or step.resource_id is None or step.outcome is None:
                continue
            payload = outcomes.step_completed(
                record.request_id,
                name,
                step.resource_id,
                step.outcome,
                step.attempts,
                step.duration_seconds or 0.0,
            )
            event_id = outcomes.step_event_id(record.first_event_id, name, step.resource_id)
            effects.append(Emit(payload, event_id))
        return effects


def owned(record: RequestRecord) -> dict[str, str]:
    """What the request made itself and still exists (not reused, not the flow spec)."""
    return {
        name: resource_id
        for name, resource_id in record.done().items()
        if record.step(name).outcome != "reused" and name != Step.FLOW_SPEC.value
    }


def current_step(record: RequestRecord, plan: Sequence[Step]) -> Step | None:
    """The first planned step that is not done (None when nothing started)."""
    if not record.steps:
        return None
    done = record.done()
    return next((step for step in plan if step.value not in done), None)


def poison(message: str) -> dict[str, Any]:
    """The error of a request delivered too often without finishing."""
    return {"kind": "poison", "message": message}


def _weight(failure: Failure) -> int:
    if failure.kind == "authentication":
        return 2
    return 1 if failure.retryable and failure.breaker_open else 0


def _replace(state: State, **changes: Any) -> State:
    values = dict(state.__dict__)
    values.update(changes)
    copy = object.__new__(State)
    object.__setattr__(copy, "__dict__", values)
    return copy


def _applied(state: State, changes: Sequence[Change], now: float) -> State:
    return _replace(state, record=apply_all(state.record, changes, now)) if changes else state


def _without(state: State, step: Step) -> dict[Step, Failure]:
    return {s: f for s, f in state.unknown.items() if s is not step}


def _done(state: State, effects: list[Effect]) -> Decision:
    return _replace(state, finished=True), effects

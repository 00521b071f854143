"""The step machine: given a request's record and what just happened, what happens next (pure).

One function decides for every operation on a dataflow (create; update, a revision applied in
place; rollback of a failed create; delete): the engine feeds it observations (a step's result,
a failure with its class, a shutdown, a lost lease) and executes the effects it returns, in
order (:mod:`worker.core.effects`); nothing here touches the network, the broker, the ledger or
a clock. A crash at any point is harmless (docs/adr/0010-step-machine.md):

* every create's intent (its name) is durable before the first create is sent: the claim
  writes the intents of the steps never started; a step whose intent exists from an earlier
  delivery looks its resource up first and adopts it (``found``); after a create whose answer
  was lost it looks up again;
* a step's completion is pipelined: later effects need not wait for its write (a lost one is
  found again by name), but the delivery is settled only once every write is durable;
* independent steps run side by side (the source connection beside the schema chain);
* an update re-reads the flow and patches what differs, then sets its state (both idempotent),
  after a new mapping set when the mappings changed (:mod:`worker.core.revisions`);
* a failure lets the running branches end, then retries (a delayed copy), hands the request back
  (the breaker is open or the credentials are refused), or fails it, rolling back first when the
  request asks for it; rollback and deletion are in :mod:`worker.core.removal`.

Retry policy, poison detection and the breaker's state are inputs, never side effects.
"""

from __future__ import annotations

from dataclasses import replace

from worker.core import outcomes
from worker.core.changes import (
    Change,
    CompleteStep,
    Release,
    StartSteps,
)
from worker.core.delivery import ACK, REQUEUE, delay
from worker.core.effects import (
    Begin,
    Call,
    CancelCalls,
    Conclude,
    Decision,
    Deleted,
    Done,
    Effect,
    Emit,
    Failed,
    Failure,
    Interrupted,
    LookedUp,
    Observation,
    State,
    Succeeded,
    Write,
    applied,
    done,
    evolve,
    without,
)
from worker.core.facts import Facts, Limits
from worker.core.failures import Failures, current_step, poison, unapplied, weight
from worker.core.follow import follow_settle
from worker.core.record import RequestRecord, never_sent
from worker.core.revisions import changed_fields
from worker.core.steps import DEPENDENCIES, Step


class Machine(Failures):
    """Decides the effects of each observation for one request (bound to its facts and limits)."""

    facts: Facts

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
        if record.operation == "delete":
            return self._begin_deletion(state, now)
        effects: list[Effect] = []
        if record.unsettled_deliveries > 1:  # a crash may have lost these events
            effects.extend(self._republish(record))
        state = evolve(state, fresh=frozenset(Step(step) for step in observation.fresh))
        intents = self.intents(record)
        if intents:  # every create's intent, durable before the first create is sent
            effects.append(Write((StartSteps(intents),)))
            fresh = state.fresh | {Step(step) for step, _ in intents}
            state = evolve(applied(state, (StartSteps(intents),), now), fresh=fresh)
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
            if step not in facts.reuses and never_sent(record.step(step))
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
            elif _updates(step, record):  # the flow exists: patch it, set its state
                calls.append(Call(step, "update"))
            elif step in state.fresh:
                calls.append(Call(step, "create"))
            else:  # an earlier delivery may have created it: look first
                calls.append(Call(step, "lookup"))
        started = {call.step for call in calls}
        return evolve(state, running=state.running | started, called=state.called | started), calls

    def _succeeded(self, state: State, seen: Succeeded) -> Decision:
        step = seen.step
        state = evolve(state, running=state.running - {step}, unknown=without(state, step))
        current = state.record.step(step.value)
        found = seen.outcome == "found"  # an earlier attempt made it: counted, or lost in a crash
        attempts = max(current.attempts, 1) if found else current.attempts + 1
        complete = CompleteStep(step.value, seen.resource_id, seen.outcome, attempts, seen.seconds)
        state = applied(state, (complete,), seen.now)
        state, calls = self._ready(state)
        changes: tuple[Change, ...] = (complete,)
        payload = outcomes.step_completed(
            self.facts.request_id,
            step.value,
            seen.resource_id,
            seen.outcome,
            attempts,
            seen.seconds,
            state.record.revision,
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
            state = evolve(state, running=state.running - {step}, unknown=without(state, step))
            return self._record_failure(state, step, lost, seen.now)
        if state.failure is not None or state.stopping:
            state = evolve(state, running=state.running - {step})
            return self._settle_when_idle(state, seen.now) if not state.running else (state, [])
        # Not made: its intent is durable from the delivery that started it, so create now.
        return state, [Call(step, "create")]

    def _failed(self, state: State, seen: Failed) -> Decision:
        step, failure = seen.step, seen.failure
        if state.record.operation == "rollback":  # a rollback goes on past what it cannot delete
            return self._deleted(state, Deleted(step, "refused", None, 0.0, seen.now))
        creates = state.record.operation != "delete" and not _updates(step, state.record)
        if failure.kind == "outcome_unknown" and creates and step not in state.unknown:
            # The create may have been applied: look it up before anything else (a deletion or
            # a patch is simply sent again: both are idempotent).
            unknown = {**state.unknown, step: failure}
            return evolve(state, unknown=unknown), [Call(step, "lookup")]
        state = evolve(state, running=state.running - {step}, unknown=without(state, step))
        if failure.not_applied:
            state = evolve(state, unapplied=state.unapplied | {step})
        return self._record_failure(state, step, failure, seen.now)

    def _record_failure(self, state: State, step: Step, failure: Failure, now: float) -> Decision:
        """Remember the failure; once no branch runs any more, decide what it means."""
        first = state.failure
        # The first failure decides, unless a later one says more: refused credentials, or an
        # open circuit (both hand the request back instead of retrying it).
        if first is None or weight(failure) > weight(first[1]):
            state = evolve(state, failure=(step, failure))
        if state.running:
            return state, []
        return self._settle_when_idle(state, now)

    def _settle_when_idle(self, state: State, now: float) -> Decision:
        """Nothing runs any more: fail, hand back, or conclude, as the state says."""
        if state.failure is not None:
            step, failure = state.failure
            return self._decide_failure(evolve(state, failure=None), step, failure, now)
        if state.stopping:
            changes: tuple[Change, ...] = (*unapplied(state), Release(settled=True))
            return done(state, [Write(changes), Done(REQUEUE)])
        finished = state.record.done()
        if all(step in finished for step in self.facts.plan):
            if state.record.operation == "update":
                return self._updated(state, now)
            return self._created(state, now)
        raise AssertionError(f"request {self.facts.request_id}: nothing runs and nothing is ready")

    # -- failures --------------------------------------------------------------------------

    def _created(self, state: State, now: float) -> Decision:
        record = state.record
        resources = record.done()
        payload = outcomes.created(
            self.facts.request_id, resources, record.attempts, now - record.command_started_at
        )
        settle = ACK
        if self.facts.follow:
            settle = follow_settle(resources[Step.DATAFLOW.value], 1, self.facts.follow_first_wait)
        return done(state, [Conclude("created", payload), Done(settle, finished="created")])

    def _updated(self, state: State, now: float) -> Decision:
        """A revision applied in place: what changed since the last applied one."""
        record = state.record
        changed = changed_fields(record.applied_json, record.request_json)
        updating = {Step.DATAFLOW.value, Step.FLOW_STATE.value}
        if "mappings" in changed:
            updating.add(Step.MAPPING_SET.value)
        payload = outcomes.updated(
            self.facts.request_id,
            record.revision,
            record.done(),
            changed=changed,
            enabled=self.facts.enabled,
            attempts=sum(record.step(name).attempts for name in updating),
            seconds=now - record.command_started_at,
        )
        return done(state, [Conclude("updated", payload), Done(ACK, finished="updated")])

    def _interrupted(self, state: State, seen: Interrupted) -> Decision:
        if seen.why == "shutdown":
            state = evolve(state, stopping=True)
            return self._settle_when_idle(state, seen.now) if not state.running else (state, [])
        if seen.why == "lease_lost":  # another delivery holds the request now
            return done(state, [CancelCalls(), Done(ACK)])
        release = Write((Release(settled=False),), best_effort=True)
        return done(state, [CancelCalls(), release, Done(REQUEUE)])

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
                record.revision,
            )
            event_id = outcomes.step_event_id(record.first_event_id, name, step.resource_id)
            effects.append(Emit(payload, event_id))
        return effects


def _updates(step: Step, record: RequestRecord) -> bool:
    """True for a step that changes an existing flow: its state, or the flow itself."""
    if step is Step.FLOW_STATE:
        return True
    return step is Step.DATAFLOW and record.step(step.value).resource_id is not None

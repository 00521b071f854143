"""Removing what a request made: a failed creation's rollback, and a dataflow's deletion (pure).

Both delete one resource at a time, newest first (the flow, its connections, the dataset, the
schema, the field group), only what the request made itself, and record each deletion in the
ledger, so a crash in the middle resumes from where it stopped. They differ in the end:

* a **rollback** (``on_failure: rollback``) goes on past a deletion that fails and ends in the
  request's ``DataflowFailed``, naming what it rolled back;
* a **deletion** (``DataflowDeletionRequested``, contract 2.4) retries a deletion that fails like
  any step, keeps what another dataflow still uses, and ends in ``DataflowDeleted``: what it
  deleted, now or earlier, and what it kept and why (supplied by the request: ``reused``; a
  mapping set: ``not_deletable``; used elsewhere: ``in_use``).

A step started by an earlier delivery whose completion is unknown may have made its resource:
its deletion looks it up by name first (:mod:`worker.engine.runner`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from worker.core import outcomes
from worker.core.changes import Change, Release, StepDeleted, StepKept
from worker.core.delivery import ACK, REQUEUE
from worker.core.effects import (
    Call,
    Conclude,
    Decision,
    Deleted,
    Done,
    Effect,
    Emit,
    State,
    Write,
    applied,
    done,
    evolve,
)
from worker.core.record import RequestRecord
from worker.core.steps import DELETABLE, Step, rollback_plan


class RemovalFacts(Protocol):
    """What removals read of the request's facts (the machine's :class:`~.machine.Facts`).

    A protocol rather than an import: the machine imports this module, so this one may not
    import the machine (``make lint`` keeps the core free of import cycles).
    """

    @property
    def request_id(self) -> str:
        """The request removed from."""

    @property
    def plan(self) -> tuple[Step, ...]:
        """The request's steps in execution order."""

    @property
    def reuses(self) -> frozenset[Step]:
        """The steps that check a supplied resource instead of making one."""


_NOT_RESOURCES = (Step.FLOW_SPEC.value, Step.FLOW_STATE.value)


class Removals:
    """The rollback and deletion decisions of :class:`worker.core.machine.Machine`."""

    facts: RemovalFacts

    def _failed_conclusion(
        self,
        state: State,
        step: Step | None,
        error: Mapping[str, Any],
        changes: tuple[Change, ...],
        now: float,
    ) -> Decision:
        raise NotImplementedError  # the machine's

    # -- rollback ----------------------------------------------------------------------------

    def _rollback(self, state: State, step: Step | None, error: Mapping[str, Any]) -> Decision:
        """Delete the next of the request's own resources, newest first, or conclude."""
        removals = self._removals(state.record)
        if not removals:
            return self._failed_conclusion(state, step, error, (), 0.0)
        state = evolve(state, removals=removals, failed_step=step, running=frozenset({removals[0]}))
        return state, [Call(removals[0], "delete")]

    def _removals(self, record: RequestRecord) -> tuple[Step, ...]:
        """What a rollback or a deletion deletes, newest first: what the request made, and what
        it may have made (a started step: its completion may have been lost in a crash)."""
        facts = self.facts
        made = [r.step for r in rollback_plan(owned(record), facts.plan) if r.deletable]
        maybe = {
            step
            for step in facts.plan
            if step in DELETABLE
            and step not in facts.reuses
            and record.step(step).state == "started"
        }
        return tuple(step for step in reversed(facts.plan) if step in made or step in maybe)

    def _deleted(self, state: State, seen: Deleted) -> Decision:
        if state.record.operation == "delete":
            return self._deletion_went_on(state, seen)
        step = seen.step
        removals = tuple(s for s in state.removals if s is not step)
        changes: tuple[Change, ...] = ()
        if seen.result == "deleted":
            changes = (StepDeleted(step.value, resource_id=seen.resource_id),)
        state = evolve(applied(state, changes, seen.now), removals=removals, running=frozenset())
        effects: list[Effect] = [Write(changes)] if changes else []
        if state.stopping:  # the rollback resumes from the ledger when the request comes back
            return done(state, [*effects, Write((Release(settled=True),)), Done(REQUEUE)])
        if removals:
            state = evolve(state, running=frozenset({removals[0]}))
            return state, [*effects, Call(removals[0], "delete")]
        error = dict(state.record.last_error or {"kind": "rejected", "message": "rolled back"})
        decision = self._failed_conclusion(state, state.failed_step, error, (), seen.now)
        return decision[0], [*effects, *decision[1]]

    # -- deletion ----------------------------------------------------------------------------

    def _begin_deletion(self, state: State, now: float) -> Decision:
        removals = self._removals(state.record)
        if not removals:
            return self._deletion_concluded(state, now)
        state = evolve(state, removals=removals, running=frozenset({removals[0]}))
        return state, [Call(removals[0], "delete")]

    def _deletion_went_on(self, state: State, seen: Deleted) -> Decision:
        """One deletion ended: record it, publish it, go on with the next or conclude."""
        step, record = seen.step, state.record
        current = record.step(step.value)
        attempts = current.attempts + 1
        resource_id = seen.resource_id or current.resource_id
        change: Change
        if seen.result == "in_use":
            change, outcome = StepKept(step.value, attempts, resource_id), "kept"
        else:  # deleted, or found gone: either way it no longer exists
            change, outcome = StepDeleted(step.value, attempts, resource_id), "deleted"
        removals = tuple(s for s in state.removals if s is not step)
        state = evolve(applied(state, (change,), seen.now), removals=removals, running=frozenset())
        effects: list[Effect] = [Write((change,))]
        if resource_id is not None:
            event = self._step_event(state.record, step.value, resource_id, outcome, seen.seconds)
            effects.append(event)
        if state.stopping:
            return done(state, [*effects, Write((Release(settled=True),)), Done(REQUEUE)])
        if removals:
            state = evolve(state, running=frozenset({removals[0]}))
            return state, [*effects, Call(removals[0], "delete")]
        decision = self._deletion_concluded(state, seen.now)
        return decision[0], [*effects, *decision[1]]

    def _deletion_concluded(self, state: State, now: float) -> Decision:
        """Nothing left to delete: ``DataflowDeleted`` with what is gone and what was kept."""
        record = state.record
        removed: dict[str, str] = {}
        kept: dict[str, tuple[str, str]] = {}
        quiet: list[Emit] = []  # kept without a call: their events go out with the conclusion
        for name, step in record.steps.items():
            if name in _NOT_RESOURCES or step.resource_id is None:
                continue
            if step.state == "deleted":
                removed[name] = step.resource_id
            elif step.state == "kept":
                kept[name] = (step.resource_id, "in_use")
            elif step.state == "done":
                why = "reused" if step.outcome == "reused" else "not_deletable"
                kept[name] = (step.resource_id, why)
                quiet.append(self._step_event(record, name, step.resource_id, "kept"))
        attempts = sum(
            step.attempts for step in record.steps.values() if step.state in ("deleted", "kept")
        )
        payload = outcomes.deleted(
            self.facts.request_id,
            removed=removed,
            kept=kept,
            reason=record.deletion_reason,
            attempts=attempts,
            seconds=now - record.command_started_at,
        )
        conclude = Conclude("deleted", payload, before=tuple(quiet))
        return done(state, [conclude, Done(ACK, finished="deleted")])

    def _step_event(
        self, record: RequestRecord, step: str, resource_id: str, outcome: str, seconds: float = 0.0
    ) -> Emit:
        current = record.step(step)
        payload = outcomes.step_completed(
            record.request_id,
            step,
            resource_id,
            outcome,
            current.attempts,
            seconds,
            record.revision,
        )
        event_id = outcomes.step_event_id(record.first_event_id, f"{step}:{outcome}", resource_id)
        return Emit(payload, event_id)


def owned(record: RequestRecord) -> dict[str, str]:
    """What the request made itself and still exists (not reused, not the flow spec)."""
    return {
        name: resource_id
        for name, resource_id in record.done().items()
        if record.step(name).outcome != "reused" and name not in _NOT_RESOURCES
    }

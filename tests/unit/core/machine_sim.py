"""A pure world for the step machine: a ledger record, a scripted Platform, and deliveries.

``World`` executes the machine's effects the way the engine does (writes applied to the record,
calls answered from a script, events collected), with no I/O, so tests can drive whole requests,
including crashes and redeliveries, and check what the machine decided.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from worker.core.changes import Finish, apply_all, decide_claim, new_record
from worker.core.machine import (
    Begin,
    Call,
    CancelCalls,
    Conclude,
    Deleted,
    Done,
    Effect,
    Emit,
    Facts,
    Failed,
    Failure,
    Interrupted,
    InterruptKind,
    Limits,
    LookedUp,
    Machine,
    Observation,
    Republish,
    Succeeded,
    TripBreaker,
    Write,
)
from worker.core.record import RequestRecord, StepOutcome
from worker.core.retry import RetryPolicy
from worker.core.steps import DEPENDENCIES, Step, plan

ALL_STEPS = plan(auto_mapping=False)
NAMES = {step: (None if step is Step.MAPPING_SET else f"crm ({step.value}) [r-1]") for step in Step}

# What a call answers: "ok", or a failure kind ("retryable", "outcome_unknown", "rejected",
# "authentication", "applied_then_lost": created, but the answer is lost).
Answer = str
Script = Callable[[Call], Answer]


def facts(
    *, rollback: bool = False, reuses: frozenset[Step] = frozenset({Step.FLOW_SPEC})
) -> Facts:
    """The facts of a request with explicit mappings."""
    return Facts(
        request_id="r-1",
        plan=ALL_STEPS,
        reuses=reuses,
        names=NAMES,
        rollback=rollback,
    )


def limits(max_attempts: int = 4) -> Limits:
    """Limits with a short retry policy."""
    return Limits(policy=RetryPolicy(max_attempts=max_attempts, max_seconds=10_000))


@dataclass
class World:
    """The record, what the Platform holds, and every effect the machine asked for."""

    machine: Machine
    script: Script = lambda _call: "ok"
    now: float = 1000.0
    record: RequestRecord = field(
        default_factory=lambda: new_record("r-1", "h", "{}", "e-1", "w", 15.0, 1000.0)
    )
    made: dict[Step, str] = field(default_factory=dict)  # what exists on the Platform
    creates: list[Step] = field(default_factory=list)
    deleted: list[Step] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    concluded: list[Conclude] = field(default_factory=list)
    settles: list[Done] = field(default_factory=list)
    breaker_trips: int = 0
    deliveries: int = 0
    unsynced: list[Write] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def deliver(
        self,
        order: Callable[[list[Observation]], int] = lambda _o: 0,
        *,
        crash_after: int | None = None,
        interrupt: InterruptKind | None = None,
    ) -> Done | None:
        """Run one delivery from its claim to its settle; ``order`` picks the next result.

        ``crash_after``: the worker dies after that many effects (None is returned; the next
        delivery comes once the lease ran out). ``interrupt``: that interruption arrives as soon
        as the first decision was carried out.
        """
        if self.deliveries:  # the first delivery's record was claimed when it was made
            expires = self.record.lease_expires_at
            if self.record.lease_owner is not None and expires is not None:
                self.now = max(self.now, expires + 1)  # a crashed worker's lease ran out
            outcome, self.record = decide_claim(self.record, "h", "w", 15.0, self.now)
            assert outcome == "acquired", outcome
        self.deliveries += 1
        state, effects = self.machine.begin(self.record, Begin(self.now))
        pending: list[Observation] = []
        budget = crash_after
        while True:
            for effect in effects:
                if budget is not None:
                    if budget == 0:
                        self.unsynced.clear()  # the worker died before these were durable
                        return None
                    budget -= 1
                done = self._execute(effect, pending)
                if done is not None:
                    return done
            if interrupt is not None:
                state, effects = self.machine.observe(state, Interrupted(interrupt, self.now))
                interrupt = None
                continue
            if not pending:
                raise AssertionError("the machine waits for nothing and settled nothing")
            observation = pending.pop(order(pending) % len(pending))
            state, effects = self.machine.observe(state, observation)

    def run(self, order: Callable[[list[Observation]], int] = lambda _o: 0, limit: int = 50) -> int:
        """Deliver until the request concluded; return how many deliveries it took."""
        for count in range(1, limit + 1):
            self.deliver(order)
            if self.concluded:
                return count
        raise AssertionError(f"not concluded after {limit} deliveries")

    def _execute(self, effect: Effect, pending: list[Observation]) -> Done | None:
        if isinstance(effect, Write) and effect.pipelined:
            self.unsynced.append(effect)  # durable later; a crash before then loses it
        elif isinstance(effect, Write):
            self._sync()
            self.record = apply_all(self.record, effect.changes, self.now)
        elif isinstance(effect, Call):
            self._check_inputs(effect)
            pending.append(self._answer(effect))
        elif isinstance(effect, Emit):
            self.events.append(effect.payload)
        elif isinstance(effect, Conclude):
            self._sync()
            body = type(effect.payload).__name__.encode()
            finish = Finish(effect.status, body, effect.error)
            self.record = apply_all(self.record, (*effect.changes, finish), self.now)
            self.concluded.append(effect)
            self.events.extend(emit.payload for emit in effect.before)
            self.events.append(effect.payload)
        elif isinstance(effect, Republish):
            self.events.append(effect.body)
        elif isinstance(effect, TripBreaker):
            self.breaker_trips += 1
        elif isinstance(effect, CancelCalls):
            pending.clear()
        elif isinstance(effect, Done):
            self._sync()
            self.settles.append(effect)
            self.now += effect.settle.seconds
            return effect
        return None

    def _sync(self) -> None:
        """The pipelined writes become durable (in order) before a write that waits."""
        for write in self.unsynced:
            self.record = apply_all(self.record, write.changes, self.now)
        self.unsynced.clear()

    def _check_inputs(self, call: Call) -> None:
        if call.mode == "delete":
            return
        view = self.record  # what the worker knows: durable, and written but not yet synced
        for write in self.unsynced:
            view = apply_all(view, write.changes, self.now)
        done = view.done()
        missing = [d for d in DEPENDENCIES[call.step] if d in ALL_STEPS and d.value not in done]
        assert not missing, f"{call.step} started before {missing}"
        if call.mode == "create":  # its intent (the name, or a started mark) is durable
            current = self.record.step(call.step.value)
            assert current.state == "started" or current.name is not None, "create without intent"

    def _answer(self, call: Call) -> Observation:
        step, now = call.step, self.now
        if call.mode == "delete":
            if step not in self.made:  # never made, or deleted before a crash (404)
                return Deleted(step, self.record.step(step.value).resource_id is not None, now)
            gone = self.script(call) == "ok"
            if gone:
                del self.made[step]
                self.deleted.append(step)
            return Deleted(step, gone, now)
        if call.mode == "lookup":
            return LookedUp(step, self.made.get(step), 0.01, now)
        answer = self.script(call)
        if answer in ("ok", "applied_then_lost"):
            if call.mode == "create":
                self.creates.append(step)
                self.made[step] = f"{step.value}-{next(self._ids)}"
            elif step not in self.made:
                self.made[step] = f"supplied-{step.value}"
            if answer == "ok":
                outcome: StepOutcome = "reused" if call.mode == "reuse" else "created"
                return Succeeded(step, self.made[step], outcome, 0.01, now)
            answer = "outcome_unknown"
        failure = Failure(answer, {"message": answer}, jitter=0.5)  # type: ignore[arg-type]
        return Failed(step, failure, now)

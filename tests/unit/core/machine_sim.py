"""A pure world for the step machine: a ledger record, a scripted Platform, and deliveries.

``World`` executes the machine's effects the way the engine does (writes applied to the record,
calls answered from a script, events collected), with no I/O, so tests can drive whole requests,
including crashes and redeliveries, and check what the machine decided.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from worker.core.changes import Finish, apply_all
from worker.core.claims import Lease, decide_deletion, decide_request, new_record
from worker.core.effects import (
    Begin,
    Call,
    CancelCalls,
    Conclude,
    Deleted,
    Done,
    Effect,
    Emit,
    Failed,
    Failure,
    Interrupted,
    InterruptKind,
    LookedUp,
    Observation,
    Republish,
    Succeeded,
    TripBreaker,
    Write,
)
from worker.core.facts import Facts, Limits
from worker.core.machine import Machine
from worker.core.record import Claim, RequestRecord, StepOutcome
from worker.core.retry import RetryPolicy
from worker.core.steps import DEPENDENCIES, Step, plan

ALL_STEPS = plan(auto_mapping=False)
WITH_STATE = plan(auto_mapping=False, flow_state=True)
NAMES = {step: (None if step is Step.MAPPING_SET else f"crm ({step.value}) [r-1]") for step in Step}

# What a call answers: "ok", or a failure kind ("retryable", "outcome_unknown", "rejected",
# "authentication", "applied_then_lost": created, but the answer is lost; "throttled": a 429,
# refused before anything was applied; a deletion: "in_use").
Answer = str
Script = Callable[[Call], Answer]


def facts(
    *,
    rollback: bool = False,
    reuses: frozenset[Step] = frozenset({Step.FLOW_SPEC}),
    flow_state: bool = False,
    enabled: bool = True,
) -> Facts:
    """The facts of a request with explicit mappings."""
    return Facts(
        request_id="r-1",
        plan=WITH_STATE if flow_state else ALL_STEPS,
        reuses=reuses,
        names=NAMES,
        rollback=rollback,
        enabled=enabled,
    )


@dataclass(frozen=True)
class Command:
    """What the deliveries carry: a revision of the request, or its deletion."""

    kind: str = "request"
    content_hash: str = "h"
    request_json: str = "{}"
    revision: int = 1
    event_id: str = "e-1"


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
        default_factory=lambda: new_record("r-1", "h", "{}", "e-1", Lease("w", 15.0, 1000.0))
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
    command: Command = field(default_factory=Command)
    updates: list[Step] = field(default_factory=list)
    lookups: list[Step] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def send(self, command: Command, machine: Machine) -> str:
        """A new command arrives (a revision, a deletion): claim it; return the claim outcome.

        When it is acquired, what the previous command concluded is cleared and the next
        deliveries carry it.
        """
        expires = self.record.lease_expires_at
        if self.record.lease_owner is not None and expires is not None:
            self.now = max(self.now, expires + 1)
        claim = self._claim(command)
        if claim.outcome == "acquired":
            self.record, self.command, self.machine = claim.record, command, machine
            self.concluded.clear()
            self.deliveries = 0
        return claim.outcome

    def _claim(self, command: Command) -> Claim:
        lease = Lease("w", 15.0, self.now)
        if command.kind == "deletion":
            claim = decide_deletion(self.record, command.event_id, "retired", lease)
            assert claim is not None
            return claim
        return decide_request(
            self.record,
            command.content_hash,
            command.request_json,
            command.revision,
            command.event_id,
            lease,
        )

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
            claim = self._claim(self.command)
            assert claim.outcome == "acquired", claim.outcome
            self.record = claim.record
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
            intent = current.state in ("started", "unapplied") or current.name is not None
            assert intent, "create without intent"

    def _answer(self, call: Call) -> Observation:
        step, now = call.step, self.now
        if call.mode == "delete":
            return self._delete(call)
        if call.mode == "update":
            return self._update(call)
        if call.mode == "lookup":
            self.lookups.append(step)
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
        if answer == "throttled":  # the gateway's 429: refused before anything was applied
            failure = Failure("retryable", {"message": "429", "status": 429}, not_applied=True)
            return Failed(step, failure, now)
        failure = Failure(answer, {"message": answer}, jitter=0.5)  # type: ignore[arg-type]
        return Failed(step, failure, now)

    def _delete(self, call: Call) -> Observation:
        step, now = call.step, self.now
        if step not in self.made:  # never made, or deleted before a crash (404)
            known = self.record.step(step.value).resource_id
            return Deleted(step, "deleted" if known else "absent", known, 0.01, now)
        answer, resource_id = self.script(call), self.made[step]
        if answer == "ok":
            del self.made[step]
            self.deleted.append(step)
            return Deleted(step, "deleted", resource_id, 0.01, now)
        if answer == "in_use":
            return Deleted(step, "in_use", resource_id, 0.01, now)
        failure = Failure(answer, {"message": answer}, jitter=0.5)  # type: ignore[arg-type]
        return Failed(step, failure, now)

    def _update(self, call: Call) -> Observation:
        step, now = call.step, self.now
        answer = self.script(call)
        if answer != "ok":
            kind = "retryable" if answer == "applied_then_lost" else answer
            failure = Failure(kind, {"message": answer}, jitter=0.5)  # type: ignore[arg-type]
            return Failed(step, failure, now)
        self.updates.append(step)
        flow_id = self.made[Step.DATAFLOW]
        outcome: StepOutcome = "updated"
        if step is Step.FLOW_STATE:
            outcome = "enabled" if self.machine.facts.enabled else "disabled"
        return Succeeded(step, flow_id, outcome, 0.01, now)

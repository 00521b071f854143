"""How the step machine decides a failure: hand back, retry, fail, roll back first (pure).

Once no branch of a request runs any more, its first failure decides, unless a later one says
more: refused credentials open the circuit and hand the request back, and so does a retryable
failure while the circuit is open; otherwise the retry policy retries it (a delayed copy) or
fails it, rolling back first when a creation asks for it (:mod:`worker.core.removal`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from worker.core import outcomes
from worker.core.changes import (
    BeginRollback,
    Change,
    CountAttempt,
    FailStep,
    Release,
    ScheduleRetry,
    StepUnapplied,
    apply_all,
)
from worker.core.delivery import delay, park
from worker.core.effects import (
    Conclude,
    Decision,
    Done,
    Failure,
    State,
    TripBreaker,
    Write,
    applied,
    done,
)
from worker.core.facts import Limits
from worker.core.record import RequestRecord
from worker.core.removal import Removals, owned
from worker.core.retry import decide
from worker.core.steps import Step


class Failures(Removals):
    """The failure decisions of :class:`worker.core.machine.Machine`."""

    limits: Limits

    def _decide_failure(self, state: State, step: Step, failure: Failure, now: float) -> Decision:
        info = dict(failure.info)
        if failure.kind == "authentication":
            error = {**info, "kind": "authentication"}
            return done(
                state,
                [
                    TripBreaker("authentication"),
                    Write((Release(settled=True, error=error),)),
                    Done(delay(self.limits.handback_seconds, "authentication")),
                ],
            )
        not_sent = unapplied(state)
        if failure.retryable and failure.breaker_open:
            why = "platform_unavailable" if failure.opened_breaker else "circuit_open"
            error = {**info, "kind": "retryable"}
            release = Release(settled=True, error=error)
            return done(
                state,
                [Write((*not_sent, release)), Done(delay(self.limits.handback_seconds, why))],
            )
        attempts = state.record.step(step.value).attempts + 1
        decision = decide(
            failure,
            attempts=attempts,
            elapsed_seconds=now - state.record.command_started_at,
            policy=self.limits.policy,
            jitter=failure.jitter,
        )
        if decision.retry:
            retry = ScheduleRetry(now + decision.delay_seconds, {**info, "kind": "retryable"})
            return done(
                state,
                [
                    Write((*not_sent, CountAttempt(step.value), retry)),
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
        rolls_back = self.facts.rollback and state.record.operation == "create"
        if rolls_back and self._removals(apply_all(state.record, changes, now)):
            changes = (*changes, BeginRollback(error))
            state = applied(state, changes, now)
            decision = self._rollback(state, step, error)
            return decision[0], [Write(changes), *decision[1]]
        return self._failed_conclusion(state, step, error, changes, now)

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
        return done(
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


def current_step(record: RequestRecord, plan: Sequence[Step]) -> Step | None:
    """The first planned step that is not done (None when nothing started)."""
    if not record.steps:
        return None
    done = record.done()
    return next((step for step in plan if step.value not in done), None)


def poison(message: str) -> dict[str, Any]:
    """The error of a request delivered too often without finishing."""
    return {"kind": "poison", "message": message}


def weight(failure: Failure) -> int:
    if failure.kind == "authentication":
        return 2
    return 1 if failure.retryable and failure.breaker_open else 0


def unapplied(state: State) -> tuple[StepUnapplied, ...]:
    """The creates a retry or hand-back may send again without a look-up: those refused before
    they were applied (a 429), and the steps whose intent this delivery's claim wrote but whose
    call it never sent (they waited for a step that failed)."""
    steps = state.unapplied | (state.fresh - state.called)
    return tuple(StepUnapplied(step.value) for step in sorted(steps))

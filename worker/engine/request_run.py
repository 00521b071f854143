"""One claimed request from its lease to its settle: run, then retry, hand back, fail or finish.

The order of effects is what makes a crash at any point harmless: the ledger is written first,
then the broker confirms what was published, then the message is acked
(docs/adr/0007-idempotency.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

from worker.broker.consumer import Delivery, Settle
from worker.broker.delay import COPY_HEADER, copy_headers
from worker.core import outcomes
from worker.core.retry import decide
from worker.core.steps import Step, plan
from worker.engine import follow
from worker.engine.execution import (
    Execution,
    Lease,
    RequestContext,
    ShutdownError,
    StepFailedError,
    StepResult,
)
from worker.engine.rollback import owned, roll_back
from worker.errors import AuthenticationError, BrokerError, LeaseLostError, LedgerError
from worker.ledger import RequestRecord

if TYPE_CHECKING:
    from worker.engine.engine import Engine

log = structlog.get_logger()

# A retry copy that arrives this much before its time is run anyway (tiers never fire early).
_EARLY_TOLERANCE_SECONDS = 0.5


def current_step(record: RequestRecord, steps: tuple[Step, ...]) -> Step | None:
    """The first planned step that is not done (None when nothing started)."""
    if not record.steps:
        return None
    for step in steps:
        if record.step(step.value).state != "done":
            return step
    return None


class RequestRun:
    """Executes one acquired request and settles its delivery."""

    def __init__(
        self,
        *,
        engine: Engine,
        delivery: Delivery,
        record: RequestRecord,
        context: RequestContext,
        lease: Lease,
    ) -> None:
        self._engine = engine
        self._delivery = delivery
        self._record = record
        self._context = context
        self._lease = lease
        self._request_id = record.request_id
        self._plan = plan(auto_mapping=context.request.mapping_mode == "auto")
        self._outcomes: dict[str, str] = {
            name: step.outcome for name, step in record.steps.items() if step.outcome is not None
        }
        self._attempts: dict[str, int] = {
            name: step.attempts for name, step in record.steps.items()
        }

    def execute(self) -> Settle:
        """Run what is left of the request; every path ends in exactly one settle action."""
        try:
            return self._run()
        except ShutdownError:
            self._release(settled=True)
            return Settle.REQUEUE
        except LeaseLostError:
            log.warning("lease_lost")  # another delivery of this request holds it now
            return Settle.ACK
        except (BrokerError, LedgerError) as error:
            log.warning("request_interrupted", error=str(error))
            self._release(settled=False)
            return Settle.REQUEUE
        except Exception:  # a bug: hand the message back; the poison count bounds the loop
            log.exception("request_crashed")
            self._release(settled=False)
            return Settle.REQUEUE

    def _run(self) -> Settle:
        engine, record = self._engine, self._record
        if record.unsettled_deliveries > engine.config.poison_deliveries:
            return self._poison()
        due = record.next_retry_at
        if due is not None and engine.now() < due - _EARLY_TOLERANCE_SECONDS:
            engine.ledger.release(self._request_id, self._lease.fence, settled=True)
            return engine.hand_back(self._delivery, due - engine.now(), "early")
        if record.unsettled_deliveries > 1:
            self._republish_done_steps()
        try:
            resources = self._execution().run(record, self._context)
        except StepFailedError as failure:
            return self._step_failed(failure)
        return self._created(resources)

    def _execution(self) -> Execution:
        engine = self._engine
        return Execution(
            ledger=engine.ledger,
            actions=engine.actions,
            lease=self._lease,
            on_step=self._step_done,
            stopping=engine.stopping,
            clock=engine.now,
        )

    def _step_done(self, result: StepResult) -> None:
        engine = self._engine
        self._attempts[result.step.value] = result.attempts
        if result.step is not Step.FLOW_SPEC:  # the flow spec is cached: no proof of health
            engine.breaker.record_success()
        self._outcomes[result.step.value] = result.outcome
        payload = outcomes.step_completed(
            self._request_id,
            result.step.value,
            result.resource_id,
            result.outcome,
            result.attempts,
            result.seconds,
        )
        event_id = outcomes.step_event_id(
            self._record.first_event_id, result.step.value, result.resource_id
        )
        engine.reporter.event(payload, event_id=event_id)
        engine.metrics.step_attempts_total.labels(step=result.step.value, outcome="completed").inc()
        engine.metrics.step_duration_seconds.labels(step=result.step.value).observe(result.seconds)
        log.info("step_completed", step=result.step.value, outcome=result.outcome)

    def _republish_done_steps(self) -> None:
        """After a crash the StepCompleted of a done step may be missing: publish it again."""
        for name, step in self._record.steps.items():
            if step.state != "done" or step.resource_id is None or step.outcome is None:
                continue
            payload = outcomes.step_completed(
                self._request_id,
                name,
                step.resource_id,
                step.outcome,
                step.attempts,
                step.duration_seconds or 0.0,
            )
            event_id = outcomes.step_event_id(self._record.first_event_id, name, step.resource_id)
            self._engine.reporter.event(payload, event_id=event_id)

    # -- failures ------------------------------------------------------------------------

    def _step_failed(self, failure: StepFailedError) -> Settle:
        engine, error, step = self._engine, failure.error, failure.step
        self._attempts[step.value] = failure.attempts
        log.warning("step_failed", step=step.value, error=str(error), attempts=failure.attempts)
        if isinstance(error, AuthenticationError):
            engine.breaker.trip("authentication")
            return self._hand_back("authentication")
        if error.retryable and engine.breaker.record_failure():
            return self._hand_back("platform_unavailable")
        if error.retryable and engine.breaker.is_open:
            return self._hand_back("circuit_open")
        elapsed = engine.now() - self._record.created_at
        decision = decide(
            error,
            attempts=failure.attempts,
            elapsed_seconds=elapsed,
            policy=engine.config.policy,
            jitter=engine.jitter(),
        )
        if decision.retry:
            return self._retry(step, error, decision.delay_seconds)
        kind = decision.failure_kind or "rejected"
        info = outcomes.error_info(kind, error)
        engine.ledger.fail_step(self._request_id, self._lease.fence, step.value, info)
        engine.metrics.step_attempts_total.labels(step=step.value, outcome="failed").inc()
        return self._fail(step, info)

    def _retry(self, step: Step, error: BaseException, seconds: float) -> Settle:
        engine = self._engine
        info = outcomes.error_info("retryable", error)
        due = engine.now() + seconds
        engine.ledger.schedule_retry(self._request_id, self._lease.fence, due, info)
        headers = copy_headers(self._delivery.headers, **{COPY_HEADER: "retry"})
        try:
            engine.delay.delay(
                self._delivery.body,
                message_id=self._delivery.message_id,
                seconds=seconds,
                headers=headers,
            )
        except BrokerError as failure:
            # The ledger says waiting_retry; the requeued original resumes it early, harmlessly.
            log.warning("retry_not_scheduled", error=str(failure))
            return Settle.REQUEUE
        engine.metrics.step_attempts_total.labels(step=step.value, outcome="retried").inc()
        engine.metrics.retries_scheduled_total.labels(step=step.value).inc()
        log.info("retry_scheduled", step=step.value, seconds=round(seconds, 3))
        return Settle.ACK

    def _poison(self) -> Settle:
        record = self._record
        step = current_step(record, self._plan)
        message = (
            f"delivered {record.unsettled_deliveries} times without finishing "
            f"(limit {self._engine.config.poison_deliveries})"
        )
        log.error("request_poison", deliveries=record.unsettled_deliveries)
        return self._fail(step, {"kind": "poison", "message": message})

    def _fail(self, step: Step | None, info: Mapping[str, Any]) -> Settle:
        engine, request = self._engine, self._context.request
        self._context.resources.update(
            {k: v for k, v in _done(self._record).items() if k not in self._context.resources}
        )
        mine = owned(self._context.resources, self._outcomes)
        rolled_back: list[str] = []
        if request.on_failure == "rollback":
            result = roll_back(engine.actions, self._context, mine, self._plan)
            rolled_back, mine = result.rolled_back, result.remaining
        payload = outcomes.failed(
            self._request_id,
            step=step.value if step is not None else None,
            info=info,
            attempts=sum(self._attempts.values()),
            created=mine,
            rolled_back=rolled_back,
        )
        body = engine.reporter.encode(payload)
        engine.ledger.finish(self._request_id, self._lease.fence, "failed", body, dict(info))
        engine.reporter.republish(body)
        engine.reporter.park(
            self._delivery, str(info["kind"]), str(info.get("message", "")), self._request_id
        )
        self._finished("failed")
        return Settle.ACK

    def _created(self, resources: Mapping[str, str]) -> Settle:
        engine = self._engine
        payload = outcomes.created(
            self._request_id,
            resources,
            sum(self._attempts.values()),
            engine.now() - self._record.created_at,
        )
        body = engine.reporter.encode(payload)
        engine.ledger.finish(self._request_id, self._lease.fence, "created", body)
        engine.reporter.republish(body)
        self._finished("created")
        wanted = self._context.request.follow_runs
        if wanted or (wanted is None and engine.config.follow_runs):
            follow.schedule(engine, self._delivery, resources[Step.DATAFLOW.value], 1)
        return Settle.ACK

    def _finished(self, outcome: str) -> None:
        metrics = self._engine.metrics
        seconds = max(self._engine.now() - self._record.created_at, 0.0)
        metrics.requests_finished_total.labels(outcome=outcome).inc()
        metrics.request_duration_seconds.observe(seconds)
        log.info("request_finished", outcome=outcome, attempts=sum(self._attempts.values()))

    # -- hand-backs ------------------------------------------------------------------------

    def _hand_back(self, why: str) -> Settle:
        from worker.engine.engine import HANDBACK_SECONDS

        self._release(settled=True)
        return self._engine.hand_back(self._delivery, HANDBACK_SECONDS, why)

    def _release(self, *, settled: bool) -> None:
        try:
            self._engine.ledger.release(self._request_id, self._lease.fence, settled=settled)
        except LedgerError as error:  # the lease expires on its own
            log.warning("release_failed", error=str(error))


def _done(record: RequestRecord) -> dict[str, str]:
    return {
        name: step.resource_id
        for name, step in record.steps.items()
        if step.state == "done" and step.resource_id is not None
    }

"""What the engine's effects say to the metrics and the logs, in one place.

The runner reports each effect it carried out; this module turns them into the counters of
contract section 6 and a few log lines (a request's end at ``info``, its steps at ``debug``: the
events already carry every step, and a log line costs as much CPU as a Platform call's parsing).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from messages.envelope import Payload
from messages.events import STEPS, StepCompleted
from worker.core.changes import FailStep
from worker.core.delivery import COPY_HEADER, REASON_HEADER
from worker.core.effects import Call, Conclude, Done
from worker.core.record import RequestRecord
from worker.observability.metrics import Metrics

log = structlog.get_logger()


class Telemetry:
    """Counts and logs what the engine did."""

    def __init__(self, metrics: Metrics, clock: Callable[[], float] = time.time) -> None:
        self.metrics = metrics
        self._clock = clock
        # A step's counters, looked up once (a label lookup takes a lock and builds a key).
        self._completed = {
            step: (
                metrics.step_attempts_total.labels(step=step, outcome="completed"),
                metrics.step_duration_seconds.labels(step=step),
            )
            for step in STEPS
        }

    def emitted(self, payload: Payload) -> None:
        """An event was published (a step's completion is counted here)."""
        if isinstance(payload, StepCompleted):
            completed, duration = self._completed[payload.step]
            completed.inc()
            duration.observe(payload.duration_seconds)
            log.debug("step_completed", step=payload.step, outcome=payload.outcome)

    def concluded(self, conclusion: Conclude) -> None:
        """A request ended; a step that failed for good is counted."""
        for change in conclusion.changes:
            if isinstance(change, FailStep):
                self.metrics.step_attempts_total.labels(step=change.step, outcome="failed").inc()

    def called(self, call: Call, seconds: float) -> None:
        """A step's Platform call returned (the client counts the HTTP requests themselves)."""

    def done(self, effect: Done, record: RequestRecord | None = None) -> None:
        """A delivery is settled: request outcomes, retries, dead letters, hand-backs."""
        metrics, settle = self.metrics, effect.settle
        if effect.retried is not None:
            step = effect.retried.value
            metrics.step_attempts_total.labels(step=step, outcome="retried").inc()
            metrics.retries_scheduled_total.labels(step=step).inc()
            log.info("retry_scheduled", step=step, seconds=round(settle.seconds, 3))
        elif settle.action == "delay" and settle.headers.get(COPY_HEADER) not in (None, "follow"):
            why = settle.headers[COPY_HEADER]
            log.info("message_handed_back", why=why, seconds=round(settle.seconds, 3))
        if settle.action == "park":
            metrics.dead_lettered_total.labels(reason=str(settle.headers[REASON_HEADER])).inc()
        if effect.finished is None:
            return
        metrics.requests_finished_total.labels(outcome=effect.finished).inc()
        if record is not None and effect.finished in ("created", "failed"):
            seconds = max(self._clock() - record.created_at, 0.0)
            metrics.request_duration_seconds.observe(seconds)
            log.info("request_finished", outcome=effect.finished, attempts=record.attempts)
        else:
            log.info("request_finished", outcome=effect.finished)

"""The engine: what one delivery of the requests queue becomes, from bytes to its settle action.

Decode, claim the request in the ledger, run its steps, and settle: every message ends acked after
what it produced was confirmed by the broker (events, a delayed retry copy, a parked copy), or is
handed back when the worker cannot take it now (circuit open, another worker holds the lease,
shutting down). The worker never crashes on input: every unreadable message gives one
DataflowFailed (kind `invalid_message`) and lands in the parking lot.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from messages.base import FieldViolation
from messages.codec import InvalidMessageError, canonical_content, content_hash, decode
from messages.envelope import Event
from messages.models import DataflowRequested
from worker.broker.consumer import Delivery, Settle
from worker.broker.delay import COPY_HEADER, Delay, copy_headers
from worker.broker.reporter import Reporter
from worker.core import outcomes
from worker.core.retry import RetryPolicy
from worker.engine.breaker import Breaker
from worker.engine.execution import Actions, Lease, RequestContext
from worker.engine.follow import FOLLOW_HEADER, follow
from worker.engine.request_run import RequestRun
from worker.errors import BrokerError, LedgerError
from worker.ledger import Ledger, RequestRecord
from worker.observability.metrics import Metrics

log = structlog.get_logger()

HANDBACK_SECONDS = 2.0
_BUSY_MAX_SECONDS = 8.0


@dataclass(frozen=True)
class EngineConfig:
    """The part of the settings the engine needs."""

    owner: str
    source: str
    default_sandbox: str = "prod"
    lease_seconds: float = 60.0
    poison_deliveries: int = 5
    follow_runs: bool = False
    follow_first_wait_seconds: float = 16.0  # the wait before the first look at a run
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    max_message_bytes: int | None = None  # refused before parsing (invalid_message)


class Engine:
    """Turns each delivery into Platform calls, ledger writes, events and one settle action."""

    def __init__(
        self,
        *,
        config: EngineConfig,
        ledger: Ledger,
        actions: Actions,
        reporter: Reporter,
        delay: Delay,
        breaker: Breaker,
        metrics: Metrics,
        stopping: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self._ledger = ledger
        self._actions = actions
        self._reporter = reporter
        self._delay = delay
        self._breaker = breaker
        self._metrics = metrics
        self._stopping = stopping or threading.Event()
        self._clock = clock
        self._jitter = jitter

    def handle(self, delivery: Delivery) -> Settle:
        """Process one delivery; return what the broker thread does with it."""
        with structlog.contextvars.bound_contextvars(message_id=delivery.message_id):
            try:
                event = decode(delivery.body, max_bytes=self.config.max_message_bytes)
            except InvalidMessageError as error:
                self._metrics.count_received(error.event_type)
                return self._invalid(delivery, error)
            self._metrics.count_received(event.type)
            age = self._clock() - event.time.timestamp()
            self._metrics.message_age_seconds.observe(max(age, 0.0))
            if not isinstance(event.data, DataflowRequested):
                return self._invalid(delivery, _not_a_request(event))
            with structlog.contextvars.bound_contextvars(request_id=event.data.request_id):
                return self._request(delivery, event, event.data)

    # -- messages that never become a request ------------------------------------------------

    def _invalid(self, delivery: Delivery, error: InvalidMessageError) -> Settle:
        log.warning("message_invalid", error=str(error))
        seed = delivery.message_id or outcomes.derived_id(delivery.body.hex())
        payload = outcomes.invalid_failed(error)
        try:
            self._reporter.event(payload, event_id=outcomes.derived_id("invalid", seed))
            self._reporter.park(delivery, "invalid_message", str(error), error.request_id)
        except BrokerError as failure:
            log.warning("invalid_message_not_parked", error=str(failure))
            return Settle.REQUEUE
        self._metrics.requests_finished_total.labels(outcome="failed").inc()
        return Settle.ACK

    # -- requests ------------------------------------------------------------------------------

    def _request(self, delivery: Delivery, event: Event, request: DataflowRequested) -> Settle:
        if self._breaker.is_open:
            return self._hand_back(delivery, HANDBACK_SECONDS, "circuit_open")
        request_json = _canonical_text(request)
        try:
            claim = self._ledger.claim(
                request.request_id,
                content_hash(request),
                request_json,
                event.id,
                self.config.owner,
                self.config.lease_seconds,
                now=self._clock(),
            )
        except LedgerError as error:
            log.warning("ledger_unavailable", error=str(error))
            return self._hand_back(delivery, HANDBACK_SECONDS, "ledger_unavailable")
        if claim.outcome == "conflict":
            return self._conflict(delivery, event, request)
        if claim.outcome == "finished":
            return self._duplicate(delivery, event, claim.record)
        if claim.outcome == "busy":
            left = (claim.record.lease_expires_at or 0.0) - self._clock()
            return self._hand_back(delivery, min(max(left, 1.0), _BUSY_MAX_SECONDS), "busy")
        assert claim.fence is not None
        lease = Lease(
            self._ledger,
            request.request_id,
            claim.fence,
            self.config.lease_seconds,
            self._clock,
        )
        context = RequestContext(request, request.sandbox or self.config.default_sandbox)
        run = RequestRun(
            engine=self,
            delivery=delivery,
            record=claim.record,
            context=context,
            lease=lease,
        )
        self._metrics.requests_in_flight.inc()
        try:
            return run.execute()
        finally:
            self._metrics.requests_in_flight.dec()

    def _conflict(self, delivery: Delivery, event: Event, request: DataflowRequested) -> Settle:
        """Another request holds this id with other content: fail this message only."""
        message = (
            f"request_id {request.request_id!r} is already used by a request with other content"
        )
        payload = outcomes.failed(
            request.request_id,
            step=None,
            info={"kind": "conflict", "message": message},
            attempts=0,
            created={},
        )
        log.warning("request_conflict")
        try:
            self._reporter.event(payload, event_id=outcomes.derived_id("conflict", event.id))
            self._reporter.park(delivery, "conflict", message, request.request_id)
        except BrokerError as error:
            log.warning("conflict_not_parked", error=str(error))
            return Settle.REQUEUE
        self._metrics.requests_finished_total.labels(outcome="conflict").inc()
        return Settle.ACK

    def _duplicate(self, delivery: Delivery, event: Event, record: RequestRecord) -> Settle:
        """The request already ended: republish its terminal event, unless this is our copy."""
        if delivery.headers.get(FOLLOW_HEADER):
            request = event.data
            assert isinstance(request, DataflowRequested)
            sandbox = request.sandbox or self.config.default_sandbox
            return follow(self, delivery, RequestContext(request, sandbox))
        if delivery.headers.get(COPY_HEADER):
            log.info("copy_of_finished_request_dropped")
            return Settle.ACK
        try:
            if record.terminal_event is not None:
                self._reporter.republish(record.terminal_event)
            if (
                record.status == "failed"
                and delivery.redelivered
                and event.id == record.first_event_id
            ):
                # A crash may have come between the terminal event and the parked copy.
                error = record.last_error or {"kind": "retries_exhausted", "message": ""}
                self._reporter.park(
                    delivery, str(error.get("kind")), str(error.get("message")), record.request_id
                )
        except BrokerError as error:
            log.warning("duplicate_not_answered", error=str(error))
            return Settle.REQUEUE
        log.info("request_duplicate", status=record.status)
        self._metrics.requests_finished_total.labels(outcome="duplicate").inc()
        return Settle.ACK

    def _hand_back(self, delivery: Delivery, seconds: float, why: str) -> Settle:
        """Put a copy back to wait (confirmed), then ack; without a copy, requeue."""
        headers = copy_headers(delivery.headers, **{COPY_HEADER: why})
        try:
            self._delay.delay(
                delivery.body, message_id=delivery.message_id, seconds=seconds, headers=headers
            )
        except BrokerError as error:
            log.warning("hand_back_failed", why=why, error=str(error))
            return Settle.REQUEUE
        log.info("message_handed_back", why=why, seconds=round(seconds, 3))
        return Settle.ACK

    # -- what RequestRun uses ------------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        """The ledger."""
        return self._ledger

    @property
    def actions(self) -> Actions:
        """The Platform actions."""
        return self._actions

    @property
    def reporter(self) -> Reporter:
        """Publishes events and parks messages."""
        return self._reporter

    @property
    def delay(self) -> Delay:
        """Delays retry copies."""
        return self._delay

    @property
    def breaker(self) -> Breaker:
        """The circuit breaker."""
        return self._breaker

    @property
    def metrics(self) -> Metrics:
        """The metrics."""
        return self._metrics

    @property
    def stopping(self) -> threading.Event:
        """Set when the worker shuts down."""
        return self._stopping

    def now(self) -> float:
        """The engine's clock."""
        return self._clock()

    def jitter(self) -> float:
        """A random fraction for backoff jitter."""
        return self._jitter()

    def hand_back(self, delivery: Delivery, seconds: float, why: str) -> Settle:
        """Hand a delivery back for later (see `_hand_back`)."""
        return self._hand_back(delivery, seconds, why)


def _canonical_text(request: DataflowRequested) -> str:
    return canonical_content(request).decode()


def _not_a_request(event: Event) -> InvalidMessageError:
    """The error for a readable event of another type sent to the requests queue."""
    return InvalidMessageError(
        f"expected a DataflowRequested, got {event.type}",
        [FieldViolation(path="type", message=f"{event.type} is not a request")],
        event_id=event.id,
        event_type=event.type,
        request_id=getattr(event.data, "request_id", None),
    )

"""Events and parked messages out: builds envelopes, publishes with confirms, counts them.

Every method returns only after the broker confirmed what it published, or raises `BrokerError`.
"""

from __future__ import annotations

import json
from datetime import datetime

import structlog

from messages.codec import encode, new_event
from messages.envelope import Payload
from worker.broker.consumer import Delivery
from worker.broker.delay import copy_headers
from worker.broker.publisher import Outgoing, Publisher
from worker.core import outcomes
from worker.errors import BrokerError
from worker.observability.metrics import Metrics

log = structlog.get_logger()


class Reporter:
    """Publishes the worker's events and parks messages in `<prefix>.dead`."""

    def __init__(self, publisher: Publisher, *, source: str, metrics: Metrics) -> None:
        self._publisher = publisher
        self._source = source
        self._metrics = metrics

    def encode(
        self, payload: Payload, *, event_id: str | None = None, time: datetime | None = None
    ) -> bytes:
        """The encoded event of `payload` (to store before publishing)."""
        return encode(new_event(payload, source=self._source, id=event_id, time=time))

    def event(self, payload: Payload, *, event_id: str | None = None) -> bytes:
        """Build, publish and return one event."""
        body = self.encode(payload, event_id=event_id)
        self.republish(body)
        return body

    def republish(self, body: bytes) -> None:
        """Publish an encoded event as it is (same id, source and time)."""
        envelope = json.loads(body)
        event_type = str(envelope["type"])
        data = envelope.get("data") or {}
        request_id = data.get("request_id") if isinstance(data, dict) else None
        try:
            self._publisher.publish_event(
                body, event_type=event_type, event_id=str(envelope["id"]), request_id=request_id
            )
        except BrokerError:
            self._metrics.events_unconfirmed_total.labels(type=event_type).inc()
            raise
        self._metrics.events_published_total.labels(type=event_type).inc()
        log.debug("event_published", type=event_type, event_id=envelope["id"])

    def park(self, delivery: Delivery, kind: str, message: str, request_id: str | None) -> None:
        """Send a copy of the delivered message to the parking lot, the reason in its headers."""
        names = self._publisher.topology
        headers = copy_headers(delivery.headers, **outcomes.park_headers(kind, message, request_id))
        self._publisher.publish(
            Outgoing(
                body=delivery.body,
                exchange="",
                routing_key=names.dead_queue,
                message_id=delivery.message_id,
                type="DataflowRequested",
                correlation_id=request_id,
                headers=headers,
                mandatory=True,
            )
        )
        self._metrics.dead_lettered_total.labels(reason=kind).inc()
        log.info("message_parked", reason=kind)

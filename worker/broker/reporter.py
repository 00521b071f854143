"""Events out: builds CloudEvents envelopes and publishes them to ``<prefix>.events``, pipelined.

``publish`` returns a future that resolves once the broker confirmed the event; the engine awaits
every event a delivery owes before it settles the delivery. Events are published once each; a
failed confirm is counted (``dataflow_events_unconfirmed_total``) and the delivery is requeued, so
the event is published again from the ledger.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from messages.codec import encode, new_event
from messages.envelope import Payload
from worker.broker.publisher import Outgoing
from worker.broker.topology import Topology, routing_key
from worker.observability.metrics import Metrics

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Encoded:
    """An event ready to publish: its body and the AMQP properties it is sent with."""

    body: bytes
    type: str
    id: str
    request_id: str | None


class Publishing(Protocol):
    """What the reporter needs of the broker link."""

    @property
    def topology(self) -> Topology:
        """The topology events go to."""

    def publish(self, message: Outgoing) -> asyncio.Future[None]:
        """Publish; the future resolves on the broker's confirm."""


class Reporter:
    """Publishes the worker's events with the worker's CloudEvents ``source``."""

    def __init__(self, link: Publishing, *, source: str, metrics: Metrics) -> None:
        self._link = link
        self._source = source
        self._metrics = metrics

    def encode(
        self, payload: Payload, *, event_id: str | None = None, time: datetime | None = None
    ) -> Encoded:
        """The encoded event of ``payload`` (to store before publishing)."""
        event = new_event(payload, source=self._source, id=event_id, time=time)
        return Encoded(encode(event), event.type, event.id, getattr(payload, "request_id", None))

    def event(self, payload: Payload, *, event_id: str | None = None) -> asyncio.Future[None]:
        """Build and publish one event."""
        return self.send(self.encode(payload, event_id=event_id))

    def send(self, event: Encoded) -> asyncio.Future[None]:
        """Publish an encoded event."""
        return self.publish(event.body, event.type, event.id, event.request_id)

    def republish(self, body: bytes) -> asyncio.Future[None]:
        """Publish an encoded event again as it is (same id, source and time)."""
        envelope = json.loads(body)
        data = envelope.get("data") or {}
        request_id = data.get("request_id") if isinstance(data, dict) else None
        return self.publish(body, str(envelope["type"]), str(envelope["id"]), request_id)

    def publish(
        self, body: bytes, event_type: str, event_id: str, request_id: str | None
    ) -> asyncio.Future[None]:
        """Publish an encoded event with the AMQP properties of the contract."""
        future = self._link.publish(
            Outgoing(
                body=body,
                exchange=self._link.topology.events_exchange,
                routing_key=routing_key(event_type),
                message_id=event_id,
                type=event_type,
                correlation_id=request_id,
            )
        )
        future.add_done_callback(lambda done: self._count(done, event_type))
        return future

    def _count(self, future: asyncio.Future[None], event_type: str) -> None:
        if future.cancelled() or future.exception() is not None:
            self._metrics.events_unconfirmed_total.labels(type=event_type).inc()
            return
        self._metrics.events_published_total.labels(type=event_type).inc()

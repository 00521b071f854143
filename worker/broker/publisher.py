"""Messages out: a few producer connections, publisher confirms, one publish at a time on each.

A publish returns only after the broker confirmed it (or raises `BrokerError`), so the caller can
acknowledge the message it came from. Messages that must reach a queue (requests, retries, the
parking lot) are published `mandatory`; a return from the broker is a failed publish.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from kombu import Connection, Producer

from worker.broker import connection as broker
from worker.broker.topology import Topology, declare, routing_key
from worker.config import BrokerTarget
from worker.errors import BrokerError

CONTENT_TYPE = "application/cloudevents+json"
CONFIRM_TIMEOUT_SECONDS = 15.0
_ATTEMPTS = 3

log = structlog.get_logger()


@dataclass(frozen=True)
class Outgoing:
    """One message to publish, with the AMQP properties of contract section 2."""

    body: bytes
    exchange: str
    routing_key: str
    message_id: str | None = None
    type: str | None = None
    correlation_id: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    mandatory: bool = False


class _Channel:
    """One producer connection with confirms; used by one publishing thread at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connection: Connection | None = None
        self.producer: Producer | None = None
        self.returned: list[str] = []


class Publisher:
    """Publishes with confirms on a few connections of its own; safe to call from any thread.

    A publish waits for its confirm on one connection, so a thread that publishes holds that
    connection for a broker round trip; ``channels`` connections let as many threads wait at
    once instead of queueing behind one.
    """

    def __init__(self, target: BrokerTarget, topology: Topology, *, channels: int = 4) -> None:
        self._target = target
        self._url = target.url
        self._topology = topology
        self._channels = [_Channel() for _ in range(max(channels, 1))]
        self._idle: queue.LifoQueue[_Channel] = queue.LifoQueue()
        for channel in reversed(self._channels):
            self._idle.put(channel)

    @property
    def topology(self) -> Topology:
        """The topology this publisher declares and publishes to."""
        return self._topology

    def start(self) -> None:
        """Connect and declare the topology (harmless when it exists)."""
        channel = self._channels[0]
        with channel.lock, broker.broker_errors("connecting the publisher"):
            self._ensure_producer(channel)

    def close(self) -> None:
        """Close the producer connections."""
        for channel in self._channels:
            with channel.lock:
                self._drop(channel)

    def heartbeat(self) -> None:
        """Read what the broker sent (its heartbeats) and send ours; skipped while publishing.

        Called about once a second by the broker thread: an idle producer connection would
        otherwise miss heartbeats in both directions and be closed by the broker.
        """
        if broker.uses_memory(self._url):
            return
        for channel in self._channels:
            if channel.connection is None or not channel.lock.acquire(blocking=False):
                continue
            try:
                connection = channel.connection
                if connection is None:
                    continue
                with broker.broker_errors("publisher heartbeat"):
                    with contextlib.suppress(TimeoutError):
                        connection.drain_events(timeout=0)
                    connection.heartbeat_check()
            except BrokerError as error:
                log.info("publisher_heartbeat_failed", error=str(error))
                self._drop(channel)
            finally:
                channel.lock.release()

    def publish(self, message: Outgoing) -> None:
        """Publish one message and wait for the broker's confirm; raises `BrokerError`."""
        channel = self._idle.get()
        try:
            with channel.lock:
                self._publish_retrying(channel, message)
        finally:
            self._idle.put(channel)

    def _publish_retrying(self, channel: _Channel, message: Outgoing) -> None:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with broker.broker_errors("publishing"):
                    self._publish_once(channel, message)
                return
            except BrokerError as error:
                self._drop(channel)
                if attempt == _ATTEMPTS or "returned" in str(error):
                    raise
                log.warning("publish_retried", attempt=attempt, error=str(error))

    def publish_event(
        self, body: bytes, *, event_type: str, event_id: str, request_id: str | None
    ) -> None:
        """Publish one event to the events exchange with its routing key."""
        self.publish(
            Outgoing(
                body=body,
                exchange=self._topology.events_exchange,
                routing_key=routing_key(event_type),
                message_id=event_id,
                type=event_type,
                correlation_id=request_id,
            )
        )

    def publish_request(
        self,
        body: bytes,
        *,
        event_id: str,
        request_id: str | None,
        event_type: str = "DataflowRequested",
    ) -> None:
        """Publish one command to the commands exchange (it must reach the requests queue).

        ``event_type`` is the command's type (``DataflowRequested`` or
        ``DataflowDeletionRequested``), which picks its routing key.
        """
        self.publish(
            Outgoing(
                body=body,
                exchange=self._topology.commands_exchange,
                routing_key=routing_key(event_type),
                message_id=event_id,
                type=event_type,
                correlation_id=request_id,
                mandatory=True,
            )
        )

    def _publish_once(self, channel: _Channel, message: Outgoing) -> None:
        producer = self._ensure_producer(channel)
        channel.returned.clear()
        producer.publish(
            message.body,
            exchange=message.exchange,
            routing_key=message.routing_key,
            content_type=CONTENT_TYPE,
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=message.message_id,
            type=message.type,
            correlation_id=message.correlation_id,
            headers=dict(message.headers),
            mandatory=message.mandatory,
            confirm_timeout=CONFIRM_TIMEOUT_SECONDS,
            timeout=CONFIRM_TIMEOUT_SECONDS,
        )
        if channel.returned:
            raise BrokerError(f"publishing: returned by the broker ({channel.returned[0]})")

    def _ensure_producer(self, channel: _Channel) -> Producer:
        if channel.producer is not None:
            return channel.producer
        connection = broker.connect(self._target, confirms=True)
        connection.ensure_connection(max_retries=3, interval_start=0.5, interval_step=1)
        amqp_channel = connection.channel()
        declare(amqp_channel, self._topology, delay_queues=not broker.uses_memory(self._url))
        returned = channel.returned

        def on_return(exception: Any, exchange: str, routing_key: str, message: Any) -> None:
            returned.append(f"{exchange or '(default)'}/{routing_key}: {exception}")

        channel.connection = connection
        channel.producer = Producer(amqp_channel, on_return=on_return)
        return channel.producer

    def _drop(self, channel: _Channel) -> None:
        connection, channel.connection, channel.producer = channel.connection, None, None
        if connection is not None:
            try:
                connection.release()
            except (
                Exception
            ) as error:  # closing a broken connection may fail; it is gone either way
                log.debug("publisher_close_failed", error=str(error))

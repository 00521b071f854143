"""The parking lot (``<prefix>.dead``): browse it without consuming it, remove chosen messages.

Browsing takes every message with ``basic.get`` *without* acknowledging it and, when done, hands
back whatever was not removed with ``basic.nack(requeue=True)``. The parking lot is a classic
queue: a requeued message goes back to its original position, and classic queues keep no
delivery count, so browsing neither reorders nor counts (the ``redelivered`` flag is set, which
nothing reads). While one browse holds the messages, another browse sees the lot as empty; the
commands keep browses short. An index in the ledger was rejected: messages that could not be
read never reach the ledger, yet they are parked too.

Parked messages carry the worker's headers (``x-dataflow-reason``, ``x-dataflow-error``,
``x-dataflow-request-id``); a message parked by the broker's delivery-limit backstop carries
only RabbitMQ's ``x-death``, and is described from that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import kombu

from worker.broker import connection as broker
from worker.broker.topology import Topology
from worker.config import BrokerTarget
from worker.core.delivery import ERROR_HEADER, REASON_HEADER, REQUEST_HEADER

_BROWSE_LIMIT = 100_000  # a bound, so that a lot filling up while browsed cannot loop forever


@dataclass(frozen=True)
class Parked:
    """One parked message as ``dlq`` shows it; ``tag`` identifies it within one browse."""

    position: int
    request_id: str | None
    reason: str
    message: str
    event_id: str | None
    body: bytes = field(repr=False)
    tag: int = 0


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) and value else None


def _request_id_from_body(body: bytes) -> str | None:
    try:
        data = json.loads(body).get("data")
    except (ValueError, AttributeError):
        return None
    return _text(data.get("request_id")) if isinstance(data, dict) else None


def describe(
    position: int,
    body: bytes,
    headers: Mapping[str, Any] | None,
    *,
    message_id: str | None = None,
    correlation_id: str | None = None,
    tag: int = 0,
) -> Parked:
    """What a parked message is, from its headers, properties and body: pure."""
    headers = headers or {}
    reason = _text(headers.get(REASON_HEADER))
    message = _text(headers.get(ERROR_HEADER))
    if reason is None:
        deaths = headers.get("x-death")
        death = deaths[0] if isinstance(deaths, list) and deaths else {}
        reason = _text(death.get("reason") if isinstance(death, dict) else None) or "unknown"
        message = message or f"dead-lettered by the broker ({reason})"
    request_id = (
        _text(headers.get(REQUEST_HEADER)) or _text(correlation_id) or _request_id_from_body(body)
    )
    return Parked(
        position=position,
        request_id=request_id,
        reason=reason,
        message=message or "",
        event_id=_text(message_id),
        body=body,
        tag=tag,
    )


class Browse:
    """The messages of one browse; :meth:`remove` acknowledges one, the rest go back."""

    def __init__(self, queue: Any, raw: list[Any]) -> None:
        self._queue = queue
        self._raw = {message.delivery_tag: message for message in raw}
        self.messages = [
            describe(
                position,
                message.body if isinstance(message.body, bytes) else message.body.encode(),
                message.headers,
                message_id=message.properties.get("message_id"),
                correlation_id=message.properties.get("correlation_id"),
                tag=message.delivery_tag,
            )
            for position, message in enumerate(raw, start=1)
        ]

    def remove(self, parked: Parked) -> None:
        """Take ``parked`` out of the parking lot for good."""
        with broker.broker_errors("removing a parked message"):
            self._raw.pop(parked.tag).ack()

    def give_back(self) -> None:
        """Return every message not removed to its place in the lot."""
        with broker.broker_errors("returning parked messages"):
            for message in self._raw.values():
                message.requeue()
        self._raw.clear()


class ParkingLot:
    """The parking lot of one topology, on a broker."""

    def __init__(self, target: BrokerTarget, topology: Topology) -> None:
        self._target = target
        self._topology = topology

    @property
    def name(self) -> str:
        """The parking lot's queue name."""
        return self._topology.dead_queue

    @contextmanager
    def browse(self) -> Iterator[Browse]:
        """Hold every parked message for the duration of the block, then give the rest back."""
        with self._queue("browsing the parking lot") as queue:
            with broker.broker_errors("browsing the parking lot"):
                raw: list[Any] = []
                while len(raw) < _BROWSE_LIMIT:
                    message = queue.get(no_ack=False)
                    if message is None:
                        break
                    raw.append(message)
            browse = Browse(queue, raw)
            try:
                yield browse
            finally:
                browse.give_back()

    def depth(self) -> int:
        """How many messages are parked now (those another browse holds are not counted)."""
        action = "counting the parking lot"
        with self._queue(action) as queue, broker.broker_errors(action):
            _, messages, _ = queue.queue_declare(passive=True)
            return int(messages)

    def purge(self) -> int:
        """Remove every parked message for good; return how many were removed."""
        action = "purging the parking lot"
        with self._queue(action) as queue, broker.broker_errors(action):
            return int(queue.purge() or 0)

    @contextmanager
    def _queue(self, action: str) -> Iterator[Any]:
        """The parking lot's queue (declared) on a connection of its own, closed afterwards."""
        with broker.opened(self._target, action) as connection:
            with broker.broker_errors(action):
                channel = connection.channel()
                queue = kombu.Queue(self._topology.dead_queue, durable=True).bind(channel)
                queue.declare()
            yield queue

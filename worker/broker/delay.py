"""How a message waits before it runs again: never unacknowledged in a consumer.

Two variants of one interface (docs/adr/0006-retry-delivery.md): `BrokerDelay` publishes a copy,
with confirms, to the TTL delay queue of the right tier, which dead-letters it back to the
requests queue (it survives a worker crash and wakes a stopped worker); `TimerDelay` is for
kombu's in-process `memory://` transport, which has no TTL and no dead-lettering: a timer
publishes the copy back to the requests queue. Either way the caller acks the original only
after `delay` returned.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

import structlog

from worker.broker.publisher import Outgoing, Publisher
from worker.errors import BrokerError

# Header on the copies the worker makes of a request (a delayed retry, a hand-back): such a copy
# finding its request finished is acked silently instead of republishing the terminal event.
COPY_HEADER = "x-dataflow-copy"
_SETTLE_SECONDS = 1.0
# Headers the broker owns: dead-lettering history and delivery counts are not copied.
_BROKER_HEADERS = ("x-death", "x-first-death-", "x-last-death-", "x-delivery-count")

log = structlog.get_logger()


def copy_headers(headers: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The headers of a copy: the original's without the broker's own, plus `extra`."""
    kept = {k: v for k, v in headers.items() if not k.startswith(_BROKER_HEADERS)}
    return {**kept, **extra}


class Delay(Protocol):
    """Puts a copy of a request back into the requests queue after a delay."""

    def delay(
        self, body: bytes, *, message_id: str | None, seconds: float, headers: Mapping[str, Any]
    ) -> None:
        """Store the copy durably (confirmed) so that it comes back after `seconds`."""

    def pending(self) -> int:
        """Copies waiting in this process (0 when the broker holds them)."""

    def close(self) -> None:
        """Stop waiting timers (they are lost; only the in-process variant has any)."""


class BrokerDelay:
    """Delays in the broker: per-tier TTL queues dead-lettering back to the requests queue."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    def delay(
        self, body: bytes, *, message_id: str | None, seconds: float, headers: Mapping[str, Any]
    ) -> None:
        """Publish the copy to the delay queue of the largest tier not above `seconds`."""
        names = self._publisher.topology
        tier = names.tier_for(seconds)
        self._publisher.publish(
            Outgoing(
                body=body,
                exchange="",
                routing_key=names.retry_queue(tier),
                message_id=message_id,
                type="DataflowRequested",
                headers=dict(headers),
                mandatory=True,
            )
        )

    def pending(self) -> int:
        """The broker holds every copy."""
        return 0

    def close(self) -> None:
        """Nothing waits in this process."""


class TimerDelay:
    """Delays in this process, for the in-process transport of the demo."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()
        self._last_fired = float("-inf")

    def delay(
        self, body: bytes, *, message_id: str | None, seconds: float, headers: Mapping[str, Any]
    ) -> None:
        """Start a timer that publishes the copy to the requests queue."""
        message = Outgoing(
            body=body,
            exchange="",
            routing_key=self._publisher.topology.requests_queue,
            message_id=message_id,
            type="DataflowRequested",
            headers=dict(headers),
        )
        timer = threading.Timer(max(seconds, 0.0), self._fire, args=(message,))
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def _fire(self, message: Outgoing) -> None:
        try:
            self._publisher.publish(message)
        except BrokerError as error:  # in-process delays die with the broker they live in
            log.error("delayed_copy_lost", message_id=message.message_id, error=str(error))
        finally:
            current = threading.current_thread()
            with self._lock:
                self._timers = {timer for timer in self._timers if timer is not current}
                self._last_fired = time.monotonic()

    def pending(self) -> int:
        """Timers that have not fired yet (and one that just fired, until its copy is taken)."""
        with self._lock:
            recent = time.monotonic() - self._last_fired < _SETTLE_SECONDS
            return len(self._timers) + int(recent)

    def close(self) -> None:
        """Cancel every waiting timer."""
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()

"""How many messages wait in the requests queue and the delay queues (for ``run --burst``).

A connection of its own, opened on first use and kept, asked with passive declarations; used by
whichever thread asks (one at a time), never by the event loop.
"""

from __future__ import annotations

import threading
from contextlib import suppress

import kombu

from worker.broker import connection as broker
from worker.broker.topology import Topology
from worker.config import BrokerTarget
from worker.errors import BrokerError


class QueueDepths:
    """Counts the messages waiting for the worker, in the broker."""

    def __init__(self, target: BrokerTarget, names: Topology) -> None:
        self._target = target
        self._names = names
        self._lock = threading.Lock()
        self._connection: kombu.Connection | None = None

    def waiting(self) -> int:
        """Messages ready in the requests queue and every delay queue (-1: the broker is gone)."""
        names = [self._names.requests_queue]
        if not broker.uses_memory(self._target.url):
            names += [self._names.retry_queue(tier) for tier in self._names.tiers]
        with self._lock:
            try:
                with broker.broker_errors("counting queued messages"):
                    if self._connection is None:
                        self._connection = broker.connect(self._target)
                    channel = self._connection.default_channel
                    return sum(
                        channel.queue_declare(queue=name, passive=True).message_count
                        for name in names
                    )
            except BrokerError:
                self._drop()
                return -1

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(Exception):
                connection.release()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._drop()

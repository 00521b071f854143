"""One kombu connection read by the event loop when its socket is readable, with heartbeats.

``open`` runs in a helper thread (connecting may take seconds); ``attach`` hands the connection
to the loop, which from then on is its only user: it reads frames when the socket is readable
(py-amqp keeps a partial frame until the rest arrives) and checks heartbeats every second. Writes
(publishes, acks) go straight to the socket, bounded by a send timeout so that a broker that stops
reading cannot stall the loop for long. The in-process ``memory://`` transport has no socket and
is polled instead.
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import kombu
import structlog

from worker.broker import connection as broker
from worker.config import BrokerTarget
from worker.errors import BrokerError

log = structlog.get_logger()

WRITE_TIMEOUT_SECONDS = 10
_FRAME_WAIT_SECONDS = 0.05  # the most a read waits for the rest of a frame already begun
_POLL_SECONDS = 0.005  # the in-process transport, which has no socket to wait on
_HEARTBEAT_CHECK_SECONDS = 1.0


class Wire:
    """A kombu connection and its channel, driven by one event loop."""

    def __init__(self, target: BrokerTarget, *, on_lost: Callable[[BrokerError], None]) -> None:
        self._target = target
        self._on_lost = on_lost
        self._memory = broker.uses_memory(target.url)
        self.connection: kombu.Connection | None = None
        self.channel: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd: int | None = None
        self._sock: Any = None
        self._timers: list[asyncio.TimerHandle] = []
        self._closed = False

    def open(self) -> None:
        """Connect and open the channel (blocking: call it from a helper thread)."""
        with broker.broker_errors("connecting to the broker"):
            connection = broker.connect(self._target)
            if not self._memory:
                connection.transport_options = {
                    **(connection.transport_options or {}),
                    "write_timeout": WRITE_TIMEOUT_SECONDS,
                }
            self.connection = connection
            connection.ensure_connection(max_retries=1)
            self.channel = connection.channel()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """From now on the loop reads the connection."""
        self._loop = loop
        if self._memory:
            self._schedule(_POLL_SECONDS, self._poll)
            return
        assert self.connection is not None
        self._sock = self.connection.connection.sock
        self._fd = self._sock.fileno()
        loop.add_reader(self._fd, self._readable)
        self._schedule(_HEARTBEAT_CHECK_SECONDS, self._heartbeat)

    def _schedule(self, delay: float, callback: Callable[[], None]) -> None:
        if self._loop is not None and not self._closed:
            self._timers = [t for t in self._timers if not t.cancelled()][-4:]
            self._timers.append(self._loop.call_later(delay, callback))

    def _readable(self) -> None:
        """Read every frame the socket has now, dispatching what completes."""
        assert self.connection is not None
        try:
            with broker.broker_errors("reading from the broker"):
                while not self._closed:
                    try:
                        self.connection.drain_events(timeout=_FRAME_WAIT_SECONDS)
                    except TimeoutError:
                        return
                    if not self._more_to_read():
                        return
        except BrokerError as error:
            self._fail(error)

    def _more_to_read(self) -> bool:
        sock = self._sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return bool(readable)

    def _poll(self) -> None:
        assert self.connection is not None
        try:
            with broker.broker_errors("reading from the broker"):
                while True:
                    try:
                        self.connection.drain_events(timeout=0)
                    except TimeoutError:
                        break
        except BrokerError as error:
            self._fail(error)
            return
        self._schedule(_POLL_SECONDS, self._poll)

    def _heartbeat(self) -> None:
        assert self.connection is not None
        try:
            with broker.broker_errors("checking heartbeats"):
                self.connection.heartbeat_check()
        except BrokerError as error:
            self._fail(error)
            return
        self._schedule(_HEARTBEAT_CHECK_SECONDS, self._heartbeat)

    def _fail(self, error: BrokerError) -> None:
        if not self._closed:
            self._on_lost(error)

    def close(self) -> None:
        """Stop reading and close the connection (errors closing a dead one are ignored)."""
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._loop is not None and self._fd is not None:
            with suppress(Exception):
                self._loop.remove_reader(self._fd)
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.release()
            except Exception as error:  # closing a broken connection may fail; it is gone anyway
                log.debug("broker_close_failed", error=str(error))
        if self._sock is not None:  # py-amqp leaves the socket of a failed connection open
            with suppress(OSError):
                self._sock.close()
            self._sock = None

"""One kombu connection read by the event loop when its socket is readable, with heartbeats.

``open`` runs in a helper thread (connecting may take seconds); ``attach`` hands the connection
to the loop, which from then on is its only user: it reads frames when the socket is readable
(py-amqp keeps a partial frame until the rest arrives) and checks heartbeats every second.

System calls are the cost per message here, so both directions are coalesced: the frames written
while the loop runs its ready callbacks (publishes, acks) leave in one ``sendall`` at the end of
the round (py-amqp's frame writer is given a buffering transport), bounded by a send timeout so a
broker that stops reading cannot stall the loop for long; and reads take whatever the socket
holds (py-amqp keeps what a frame did not use). The in-process ``memory://`` transport has no
socket and is polled instead.
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import amqp.method_framing
import amqp.transport
import kombu
import structlog

from worker.broker import connection as broker
from worker.config import BrokerTarget
from worker.errors import BrokerError

log = structlog.get_logger()

WRITE_TIMEOUT_SECONDS = 10
# The most a read waits for the rest of a frame already begun: the loop waits with it, so short
# (a frame's bytes arrive together; a slow remainder is read when it comes, py-amqp keeps the rest).
_FRAME_WAIT_SECONDS = 0.005
_POLL_SECONDS = 0.005  # the in-process transport, which has no socket to wait on
_HEARTBEAT_CHECK_SECONDS = 1.0
_FRAME_HEADER = 7  # type (1 octet), channel (2), payload size (4)
_READ_CHUNK = 65536  # what one read takes at most: several frames, when several wait


def _holds_a_frame(buffer: bytes) -> bool:
    """True when py-amqp's read buffer holds a whole frame (header, payload, end octet)."""
    if len(buffer) < _FRAME_HEADER:
        return False
    size = int.from_bytes(buffer[3:7], "big")
    return len(buffer) >= _FRAME_HEADER + size + 1


class CoalescedWrites:
    """A stand-in for py-amqp's transport in its frame writer: some frames wait for the round's end.

    Only frames written while ``holding`` wait (publishes and acks, which expect no reply); any
    other (a method py-amqp then waits on the reply of) goes out at once, after those queued.
    py-amqp hands ``write`` a view of a buffer it reuses, so each frame is copied; the first
    frame of a round schedules one flush with ``call_soon``, after the loop's ready callbacks.
    """

    def __init__(
        self,
        transport: Any,
        loop: asyncio.AbstractEventLoop,
        on_error: Callable[[BrokerError], None],
    ) -> None:
        self._transport = transport
        self._loop = loop
        self._on_error = on_error
        self._frames: list[bytes] = []
        self.holding = False

    def write(self, frame: Any) -> None:
        """Queue one frame (the first of a round schedules the flush), or send it now."""
        if not self.holding:
            self.flush()
            self._transport.write(frame)
            return
        if not self._frames:
            self._loop.call_soon(self.flush)
        self._frames.append(bytes(frame))

    def flush(self) -> None:
        """Send what is queued, in one system call."""
        if not self._frames:
            return
        data = b"".join(self._frames)
        self._frames.clear()
        try:
            with broker.broker_errors("writing to the broker"):
                self._transport.write(data)
        except BrokerError as error:
            self._on_error(error)


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
        self._amqp: Any = None
        self._writes: CoalescedWrites | None = None
        self._unbuffered_writer: Any = None

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
        """From now on the loop reads the connection, and coalesces what it writes."""
        self._loop = loop
        if self._memory:
            self._schedule(_POLL_SECONDS, self._poll)
            return
        assert self.connection is not None
        amqp_connection = self.connection.connection
        self._amqp = amqp_connection
        self._sock = amqp_connection.sock
        self._fd = self._sock.fileno()
        transport = amqp_connection.transport
        if isinstance(transport, amqp.transport.TCPTransport):  # TLS reads its own records
            recv = self._sock.recv
            transport._quick_recv = lambda wanted: recv(max(wanted, _READ_CHUNK))
        self._unbuffered_writer = amqp_connection.frame_writer
        self._writes = CoalescedWrites(transport, loop, self._fail)
        amqp_connection.frame_writer = amqp.method_framing.frame_writer(
            amqp_connection, self._writes
        )
        loop.add_reader(self._fd, self._readable)
        self._schedule(_HEARTBEAT_CHECK_SECONDS, self._heartbeat)
        self.read_buffered()

    def read_buffered(self) -> None:
        """Soon read the frames a blocking call left in py-amqp's buffer.

        A call that waits for its reply (connecting, ``basic_consume``) reads whatever the socket
        holds; deliveries that came with the reply stay buffered, and an empty socket never
        wakes the reader. Call this after every such call made while attached.
        """
        if self._loop is not None and self._fd is not None and not self._closed:
            self._loop.call_soon(self._read_if_buffered)

    def _read_if_buffered(self) -> None:
        if not self._closed and self._more_to_read():
            self._readable()

    @contextmanager
    def coalescing(self) -> Iterator[None]:
        """Frames written inside wait for the end of the loop's round (they expect no reply)."""
        writes = self._writes
        if writes is None:
            yield
            return
        writes.holding = True
        try:
            yield
        finally:
            writes.holding = False

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
        if self._amqp is not None and _holds_a_frame(self._amqp.transport._read_buffer):
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
        if self._writes is not None and self._amqp is not None:
            self._writes.flush()  # what is queued goes out before the close handshake
            self._amqp.frame_writer = self._unbuffered_writer
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

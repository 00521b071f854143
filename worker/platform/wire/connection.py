"""One HTTP/1.1 connection: an asyncio `Protocol` that sends a request and parses its answer.

Responses are parsed by httptools (llhttp, in C): fixed-length, chunked and read-until-close
bodies alike. A connection carries one exchange at a time and remembers whether it may carry
another: the server may close it (``eof_received``/``connection_lost``), answer
``Connection: close``, or send something nobody asked for, and then it is never used again.

Failures are raised as httpx's exception classes, which `worker.platform.http` translates:
no answer in time is `httpx.ReadTimeout`, a reset is `httpx.ReadError`, a close before the whole
answer (or an answer that is not HTTP) is `httpx.RemoteProtocolError`, a write that cannot
complete is `httpx.WriteError`/`httpx.WriteTimeout`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
import httpx

Headers = list[tuple[bytes, bytes]]
_HEADER_END = b"\r\n\r\n"
_TUNNEL_LIMIT = 64 * 1024  # a proxy's answer to CONNECT is a status line and a few headers


class Answer:
    """A parsed response: status, reason, raw headers, the whole body, and whether to keep going."""

    __slots__ = ("body", "headers", "keep_alive", "reason", "status")

    def __init__(
        self, status: int, reason: bytes, headers: Headers, body: bytes, keep_alive: bool
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive


class Connection(asyncio.Protocol):
    """A client HTTP/1.1 connection; `exchange` one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False  # the server is done with it, or it broke: never use it again
        self.idle_since = 0.0
        self.lost: asyncio.Future[None] = loop.create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._tunnel: bytearray | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._head_only = False
        self._reset_message()
        self._received = False  # any byte of the current exchange's answer
        self._last_data = 0.0

    def _reset_message(self) -> None:
        self._status = 0
        self._reason = b""
        self._headers: Headers = []
        self._body: list[bytes] = []
        self._headers_done = False
        self._keep_alive = False
        self._complete = False

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport; the connection is ready for its first exchange."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        """Feed the parser (or the CONNECT answer buffer); bytes nobody waits for end it."""
        self._last_data = self._loop.time()
        if self._tunnel is not None:
            self._tunnel += data
            if _HEADER_END in self._tunnel or len(self._tunnel) > _TUNNEL_LIMIT:
                self._wake()
            return
        if self._waiter is None:
            self._fail_idle()
            return
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self.closed = True
            self._wake(httpx.RemoteProtocolError(f"the answer is not valid HTTP: {error}"))

    def eof_received(self) -> bool:
        """The server will send no more: finish a read-until-close body, or fail the exchange."""
        self.closed = True
        if self._waiter is not None and not self._complete:
            if self._headers_done and self._reads_until_close():
                self._complete = True
                self._wake()
            else:
                self._wake(self._closed_early())
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: fail any exchange in progress."""
        self.closed = True
        if self._waiter is not None and not self._complete:
            if exc is None:
                self._wake(self._closed_early())
            else:
                self._wake(httpx.ReadError(f"the connection was lost: {exc}"))
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(httpx.WriteError("the connection was lost while sending"))
        if not self.lost.done():
            self.lost.set_result(None)

    def pause_writing(self) -> None:
        """The transport's buffer is full: writers wait for `resume_writing`."""
        if self._drain is None or self._drain.done():
            self._drain = self._loop.create_future()

    def resume_writing(self) -> None:
        """The transport's buffer drained."""
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # -- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        """An answer starts; one after the answer we waited for was never asked for."""
        if self._complete:
            self.closed = True

    def on_status(self, reason: bytes) -> None:
        """The status line's reason phrase."""
        if not self._complete:
            self._reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header of the answer."""
        if not self._complete:
            self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        """The head is complete; a HEAD answer ends here."""
        if self._complete:
            return
        self._status = self._parser.get_status_code()
        self._headers_done = True
        # llhttp knows it only now: it resets its flags once the message is complete.
        self._keep_alive = self._parser.should_keep_alive()
        if self._head_only and self._status >= 200:
            self.closed = True  # its body, if the server sends one anyway, is not ours
            self._complete = True
            self._wake()

    def on_body(self, body: bytes) -> None:
        """A piece of the body."""
        if not self._complete:
            self._body.append(body)

    def on_message_complete(self) -> None:
        """The answer is complete (an interim 1xx answer is skipped)."""
        if 100 <= self._status < 200:
            self._reset_message()
            return
        if not self._complete:
            self._complete = True
            self._wake()

    # -- the exchange -----------------------------------------------------------------------

    async def exchange(
        self,
        data: bytes,
        *,
        read_timeout: float | None,
        write_timeout: float | None,
        head_only: bool = False,
    ) -> Answer:
        """Send one request (head and body in ``data``) and return the whole answer."""
        transport = self.transport
        assert transport is not None
        assert self._waiter is None
        self._reset_message()
        self._head_only = head_only
        self._received = False
        waiter = self._waiter = self._loop.create_future()
        try:
            transport.write(data)
            if self._drain is not None and not self._drain.done():
                await self._wait(self._drain, write_timeout, httpx.WriteTimeout)
            await self._wait(waiter, read_timeout, httpx.ReadTimeout)
        finally:
            self._waiter = None
        if not self._complete:  # pragma: no cover -- the waiter is only woken complete or failed
            raise httpx.RemoteProtocolError("the answer ended early")
        keep_alive = self._keep_alive
        if not keep_alive:
            self.closed = True
        self.idle_since = self._loop.time()
        return Answer(self._status, self._reason, self._headers, b"".join(self._body), keep_alive)

    def reusable(self, now: float, expiry: float) -> bool:
        """Whether an idle connection may carry the next exchange (idle less than ``expiry``)."""
        transport = self.transport
        return (
            not self.closed
            and transport is not None
            and not transport.is_closing()
            and now - self.idle_since < expiry
        )

    @property
    def answered(self) -> bool:
        """Whether any byte of the last exchange's answer arrived (then it was surely sent)."""
        return self._received

    async def open_tunnel(self, request: bytes, timeout: float | None) -> tuple[int, bytes]:
        """Send a proxy ``CONNECT`` request; return the proxy's status and its reason phrase."""
        assert self.transport is not None
        self._tunnel = bytearray()
        waiter = self._waiter = self._loop.create_future()
        try:
            self.transport.write(request)
            await self._wait(waiter, timeout, httpx.ConnectTimeout)
            head, _, rest = bytes(self._tunnel).partition(_HEADER_END)
        finally:
            self._waiter = None
            self._tunnel = None
        status_line = head.split(b"\r\n", 1)[0].split(b" ", 2)
        if rest or len(status_line) < 2 or not status_line[1].isdigit():
            raise httpx.ProxyError("the proxy's answer to CONNECT is not valid HTTP")
        return int(status_line[1]), status_line[2] if len(status_line) > 2 else b""

    def adopt(self, transport: asyncio.Transport) -> None:
        """Carry on over ``transport`` (the TLS layer started on top of the tunnel)."""
        self.transport = transport

    def close(self) -> None:
        """Close at once, whatever is in flight (the exchange fails)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # -- helpers ------------------------------------------------------------------------------

    async def _wait(
        self,
        future: asyncio.Future[None],
        timeout: float | None,
        error: type[httpx.TimeoutException],
    ) -> None:
        """Await ``future``; raise ``error`` after ``timeout`` seconds without any byte received."""
        if timeout is None:
            await future
            return
        started = self._last_data = self._loop.time()
        deadline = started + timeout
        self._timer = self._loop.call_at(deadline, self._check_idle, future, timeout, error)
        try:
            await future
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _check_idle(
        self, future: asyncio.Future[None], timeout: float, error: type[httpx.TimeoutException]
    ) -> None:
        """The timer fired: time out, or wait on when bytes arrived meanwhile."""
        if future.done():
            return
        deadline = self._last_data + timeout
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._check_idle, future, timeout, error)
            return
        self.closed = True
        future.set_exception(error(f"no answer within {timeout:g} s"))

    def _wake(self, error: BaseException | None = None) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)

    def _fail_idle(self) -> None:
        """Bytes arrived while idle (a late 408, garbage): this connection is done."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _reads_until_close(self) -> bool:
        names = {name.lower() for name, _ in self._headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _closed_early(self) -> httpx.TransportError:
        if not self._received:
            return httpx.RemoteProtocolError("the server closed the connection without answering")
        return httpx.RemoteProtocolError("the server closed the connection mid-answer")

    def __repr__(self) -> str:
        peer: Any = self.transport.get_extra_info("peername") if self.transport else None
        return f"<Connection {peer} closed={self.closed}>"

"""`LeanTransport`: httpx's async transport interface on asyncio protocols, pooled per origin.

What it does, and nothing more (the Platform client needs no HTTP/2, no streaming, no retries):

* keeps idle connections per route (origin, or proxy) for reuse, newest first, and drops one
  the server closed (it saw ``eof_received``/``connection_lost``) or that sat idle longer than
  ``keepalive_expiry`` (shorter than common server keep-alive timeouts, so the server does not
  close it as we reuse it);
* lets at most ``max_in_flight`` requests run at once; one more waits for a slot up to the pool
  timeout, then `httpx.PoolTimeout`;
* connects with the connect timeout (`httpx.ConnectTimeout`; refused, unreachable, unknown host or
  a failed TLS handshake: `httpx.ConnectError`), TLS always verified by the given context,
  through an HTTP proxy where the `Proxies` say so (``CONNECT`` then TLS for https targets);
* reads whole answers (the read timeout counts from the last byte received);
* never sends a request twice, except a GET or HEAD that found a reused connection closed
  before any byte of its answer arrived.

Timeouts come from each request's ``timeout`` extension, as httpx's own transports read them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from worker.platform.wire.connection import Answer, Connection
from worker.platform.wire.head import connect_request, encode_request, request_target
from worker.platform.wire.proxies import Proxies, Route

KEEPALIVE_EXPIRY_SECONDS = 4.0
_RESENDABLE = frozenset({b"GET", b"HEAD"})
_HTTP11 = {"http_version": b"HTTP/1.1"}


class LeanTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio for one event loop: pools, a cap on requests in flight, proxies."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        *,
        max_in_flight: int,
        proxies: Proxies | None = None,
        keepalive_expiry: float = KEEPALIVE_EXPIRY_SECONDS,
    ) -> None:
        self._ssl = ssl_context
        self._proxies = proxies or Proxies()
        self._max_in_flight = max_in_flight
        self._expiry = keepalive_expiry
        self._slots: asyncio.Semaphore | None = None  # made in the loop that uses it
        self._routes: dict[tuple[bytes, bytes, int | None], Route] = {}
        self._idle: dict[tuple[str, str, int, str], deque[Connection]] = {}
        self._all: set[Connection] = set()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its whole answer."""
        timeouts: dict[str, Any] = request.extensions.get("timeout") or {}
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        body = await request.aread()
        answer = await self.exchange(
            request.method.encode("ascii"),
            request.url,
            request.headers.raw,
            body,
            timeouts,
            chunked=chunked,
            request=request,
        )
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=httpx.ByteStream(answer.body),
            extensions={**_HTTP11, "reason_phrase": answer.reason},
            request=request,
        )

    async def exchange(
        self,
        method: bytes,
        url: httpx.URL,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        timeouts: Mapping[str, Any],
        *,
        chunked: bool = False,
        request: httpx.Request | None = None,
    ) -> Answer:
        """Send a request given as bytes (the caller's headers include Host and Content-Length).

        The Platform client's own path: no ``httpx.Request`` or ``httpx.Response`` to build,
        which costs more than the exchange itself. ``request`` only labels errors.
        """
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        slots = self._slots
        if slots is None:
            slots = self._slots = asyncio.Semaphore(self._max_in_flight)
        if slots.locked():
            await self._wait_for_slot(slots, timeouts.get("pool"), request)
        else:
            await slots.acquire()
        try:
            return await self._send(method, url, headers, body, timeouts, chunked, request)
        finally:
            slots.release()

    async def aclose(self) -> None:
        """Close every connection, idle or busy; later requests fail with ConnectError."""
        self._closed = True
        connections, self._all = self._all, set()
        self._idle.clear()
        for connection in connections:
            connection.close()
        lost = [connection.lost for connection in connections if connection.transport]
        if lost:  # let the transports finish closing in this loop, so none is left unclosed
            await asyncio.wait(lost, timeout=1.0)

    # -- one request ------------------------------------------------------------------------

    async def _wait_for_slot(
        self, slots: asyncio.Semaphore, timeout: float | None, request: httpx.Request | None
    ) -> None:
        try:
            async with asyncio.timeout(timeout):
                await slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(
                f"all {self._max_in_flight} request slots stayed busy for {timeout:g} s",
                request=request,
            ) from None

    async def _send(
        self,
        method: bytes,
        url: httpx.URL,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        timeouts: Mapping[str, Any],
        chunked: bool,
        request: httpx.Request | None,
    ) -> Answer:
        route = self._route(url)
        if route.proxy_headers:
            headers = [*headers, *route.proxy_headers]
        target = request_target(url, absolute_form=route.absolute_form)
        data = encode_request(method, target, headers, body, chunked=chunked)
        while True:
            connection, reused = await self._checkout(route, timeouts, request)
            try:
                answer = await connection.exchange(
                    data,
                    read_timeout=timeouts.get("read"),
                    write_timeout=timeouts.get("write"),
                    head_only=method == b"HEAD",
                )
            except httpx.TransportError as error:
                self._discard(connection)
                stale = reused and not connection.answered and method in _RESENDABLE
                if stale and isinstance(error, httpx.ReadError | httpx.RemoteProtocolError):
                    continue  # a keep-alive connection the server had just closed: once more
                if request is not None:
                    error.request = request
                raise
            except BaseException:  # cancelled mid-exchange: the connection's state is unknown
                self._discard(connection)
                raise
            self._checkin(route, connection)
            return answer

    def _route(self, url: httpx.URL) -> Route:
        key = (url.raw_scheme, url.raw_host, url.port)
        route = self._routes.get(key)
        if route is None:
            scheme = url.raw_scheme.decode("ascii")
            if scheme not in ("http", "https"):
                raise httpx.UnsupportedProtocol(f"cannot send a request to a {scheme}:// URL")
            route = self._proxies.route(scheme, url.raw_host.decode("ascii"), url.port)
            self._routes[key] = route
        return route

    # -- connections ------------------------------------------------------------------------

    async def _checkout(
        self, route: Route, timeouts: Mapping[str, Any], request: httpx.Request | None
    ) -> tuple[Connection, bool]:
        """An idle connection of the route that is still good, or a new one."""
        idle = self._idle.get(route.key)
        if idle:
            now = asyncio.get_running_loop().time()
            while idle:
                connection = idle.pop()
                if connection.reusable(now, self._expiry):
                    return connection, True
                self._discard(connection)
        return await self._connect(route, timeouts.get("connect"), request), False

    def _checkin(self, route: Route, connection: Connection) -> None:
        if connection.closed or self._closed:
            self._discard(connection)
            return
        idle = self._idle.get(route.key)
        if idle is None:
            idle = self._idle[route.key] = deque()
        idle.append(connection)
        if len(idle) > self._max_in_flight:
            self._discard(idle.popleft())

    def _discard(self, connection: Connection) -> None:
        connection.close()
        self._all.discard(connection)

    async def _connect(
        self, route: Route, timeout: float | None, request: httpx.Request | None
    ) -> Connection:
        loop = asyncio.get_running_loop()
        connection = Connection(loop)
        where = f"{route.host}:{route.port}"
        if route.tunnel is not None:
            where += f" (the proxy, for {route.tunnel.decode()})"
        direct_tls = route.tls_host if route.tunnel is None else None
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(
                    lambda: connection,
                    route.host,
                    route.port,
                    ssl=self._ssl if direct_tls else None,
                    server_hostname=direct_tls,
                )
                self._all.add(connection)
                if route.tunnel is not None:
                    await self._tunnel(loop, connection, route, timeout)
        except TimeoutError:
            self._discard(connection)
            raise httpx.ConnectTimeout(
                f"no connection to {where} within {timeout:g} s", request=request
            ) from None
        except OSError as error:  # refused, unreachable, unknown host, TLS handshake failed
            self._discard(connection)
            raise httpx.ConnectError(
                f"cannot connect to {where}: {_reason(error)}", request=request
            ) from None
        except httpx.ProxyError as error:
            self._discard(connection)
            if request is not None:
                error.request = request
            raise
        return connection

    async def _tunnel(
        self,
        loop: asyncio.AbstractEventLoop,
        connection: Connection,
        route: Route,
        timeout: float | None,
    ) -> None:
        """CONNECT through the proxy, then TLS with the origin over the tunnel."""
        assert route.tunnel is not None
        assert route.tls_host is not None
        status, reason = await connection.open_tunnel(
            connect_request(route.tunnel, route.proxy_headers), timeout
        )
        if not 200 <= status < 300:
            raise httpx.ProxyError(
                f"the proxy {route.via} refused to CONNECT to {route.tunnel.decode()}: "
                f"{status} {reason.decode('latin-1')}".rstrip()
            )
        assert connection.transport is not None
        transport = await loop.start_tls(
            connection.transport,
            connection,
            self._ssl,
            server_hostname=route.tls_host,
        )
        assert isinstance(transport, asyncio.Transport)
        connection.adopt(transport)


def _reason(error: OSError) -> str:
    """Why a connect failed, in the system's words ("Connection refused")."""
    if isinstance(error, ssl.SSLError | socket.gaierror):
        return str(error.strerror or error) if isinstance(error, socket.gaierror) else str(error)
    if error.errno and error.errno > 0:  # asyncio words a refusal as "Connect call failed"
        return os.strerror(error.errno)
    return str(error)

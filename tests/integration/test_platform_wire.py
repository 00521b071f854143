"""Our HTTP/1.1 transport against scripted servers on loopback: reuse, closes, bodies, failures.

Each server is an asyncio server in the test's own loop that answers from a script, counting
connections and requests, so each test can say exactly what went over the wire.
"""

from __future__ import annotations

import asyncio
import http.client
import io
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

import httpx
import pytest

from worker.platform.wire import LeanTransport

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Answer = Callable[[int, bytes, asyncio.StreamWriter], Awaitable[bool]]


class Script:
    """A server that reads each request head (and body) and lets ``answer`` reply.

    ``answer(number, head, writer)`` gets the request's number (from 1, across connections);
    it returns False to stop serving that connection.
    """

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.url = ""
        self.handlers: set[asyncio.Task[None]] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection until the script or the client ends it."""
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                fields = http.client.parse_headers(io.BytesIO(head.split(b"\r\n", 1)[1]))
                await reader.readexactly(int(fields.get("Content-Length", 0)))
                self.requests.append(head.split(b"\r\n", 1)[0])
                if not await self.answer(len(self.requests), head, writer):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()


@asynccontextmanager
async def scripted(answer: Answer) -> AsyncIterator[Script]:
    """Serve ``answer`` on a free loopback port for the block."""
    script = Script(answer)
    server = await asyncio.start_server(script.serve, "127.0.0.1", 0)
    script.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        yield script
        server.close()
        if script.handlers:  # the client has closed its side: let each handler finish
            _, stuck = await asyncio.wait(script.handlers, timeout=1)
            for task in stuck:  # a script still sleeping on a request nobody waits for
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)


def http_client(**timeouts: float) -> httpx.AsyncClient:
    """An httpx client on our transport (system trust store), 5 s timeouts unless given."""
    transport = LeanTransport(ssl.create_default_context(), max_in_flight=8)
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, **timeouts))


async def always_ok(number: int, head: bytes, writer: asyncio.StreamWriter) -> bool:
    """Answer 200 and keep the connection."""
    writer.write(OK)
    return True


async def test_sequential_requests_share_one_kept_alive_connection() -> None:
    async with scripted(always_ok) as server, http_client() as http:
        for _ in range(5):
            assert (await http.get(server.url + "/x")).text == "ok"
    assert server.connections == 1
    assert len(server.requests) == 5


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async def answer_then_close(number: int, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(OK)
        return False  # keep-alive promised, then closed while idle

    async with scripted(answer_then_close) as server, http_client() as http:
        assert (await http.post(server.url + "/a", content=b"1")).text == "ok"
        await asyncio.sleep(0.05)  # the close reaches the client while its connection idles
        assert (await http.post(server.url + "/b", content=b"2")).text == "ok"
    assert server.requests == [b"POST /a HTTP/1.1", b"POST /b HTTP/1.1"]  # each sent once
    assert server.connections == 2


async def test_connection_close_in_the_answer_ends_the_connection() -> None:
    async def closing(number: int, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        return True  # the server would carry on; the client must not

    async with scripted(closing) as server, http_client() as http:
        await http.get(server.url)
        await http.get(server.url)
    assert server.connections == 2


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            b"hello world",
            id="chunked",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", b"until the end", id="until-close"),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            b"ok",
            id="after-100-continue",
        ),
        pytest.param(b"HTTP/1.1 204 No Content\r\n\r\n", b"", id="no-content"),
    ],
)
async def test_each_way_of_ending_a_body_is_read_whole(raw: bytes, body: bytes) -> None:
    async def answer(number: int, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(raw)
        return b"until the end" not in raw

    async with scripted(answer) as server, http_client() as http:
        for _ in range(2):
            assert (await http.get(server.url)).content == body


async def test_a_get_on_a_connection_closed_under_it_is_sent_again_but_a_post_never() -> None:
    async def first_only(number: int, head: bytes, writer: asyncio.StreamWriter) -> bool:
        if number in (2, 4):
            return False  # close without answering: the keep-alive race, server side
        writer.write(OK)
        return True

    async with scripted(first_only) as server, http_client() as http:
        await http.get(server.url + "/warm")
        assert (await http.get(server.url + "/again")).text == "ok"
        assert server.requests[1:] == [b"GET /again HTTP/1.1"] * 2
        with pytest.raises(httpx.RemoteProtocolError, match="without answering"):
            await http.post(server.url + "/create", content=b"{}")
    assert server.requests.count(b"POST /create HTTP/1.1") == 1


async def test_no_answer_within_the_read_timeout_is_a_read_timeout() -> None:
    async def silent(number: int, head: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.Event().wait()  # until the test ends
        return False

    async with scripted(silent) as server, http_client(read=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(server.url)


async def test_a_slow_but_steady_answer_is_not_a_timeout() -> None:
    async def trickle(number: int, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        for byte in b"slow!":
            await writer.drain()
            await asyncio.sleep(0.1)  # each pause under the read timeout, all of them over it
            writer.write(bytes([byte]))
        return True

    async with scripted(trickle) as server, http_client(read=0.3) as http:
        assert (await http.get(server.url)).text == "slow!"


async def test_a_reset_mid_answer_is_a_read_error() -> None:
    async def reset(number: int, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False  # close with linger 0: a TCP reset

    async with scripted(reset) as server, http_client() as http:
        with pytest.raises(httpx.ReadError, match="lost"):
            await http.get(server.url)


async def test_an_answer_nobody_asked_for_is_ignored_and_ends_the_connection() -> None:
    async def twice(number: int, head: bytes, writer: asyncio.StreamWriter) -> bool:
        extra = b"HTTP/1.1 500 Oops\r\nX-Extra: 1\r\nContent-Length: 4\r\n\r\nnope"
        writer.write(OK + extra)  # one write: the extra answer arrives with the real one
        return True

    async with scripted(twice) as server, http_client() as http:
        first = await http.get(server.url)
        second = await http.get(server.url)
    assert (first.status_code, first.text, "x-extra" in first.headers) == (200, "ok", False)
    assert second.text == "ok"
    assert server.connections == 2


async def test_an_answer_that_is_not_http_is_a_protocol_error() -> None:
    async def garbage(number: int, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        return True

    async with scripted(garbage) as server, http_client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="not valid HTTP"):
            await http.get(server.url)


async def test_a_tls_handshake_that_never_ends_is_a_connect_timeout() -> None:
    # The script waits for an HTTP request head, which a TLS client hello never completes.
    async with scripted(always_ok) as server, http_client(connect=0.2) as http:
        with pytest.raises(httpx.ConnectTimeout):
            await http.get(server.url.replace("http://", "https://"))
    assert server.requests == []


async def test_requests_over_the_in_flight_cap_wait_their_turn() -> None:
    in_flight = peak = 0

    async def slow_ok(number: int, head: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        writer.write(OK)
        return True

    transport = LeanTransport(ssl.create_default_context(), max_in_flight=3)
    async with scripted(slow_ok) as server, httpx.AsyncClient(transport=transport) as http:
        answers = await asyncio.gather(*(http.get(server.url) for _ in range(12)))
    assert [answer.text for answer in answers] == ["ok"] * 12
    assert peak == 3
    assert server.connections == 3


async def test_closing_the_transport_closes_its_connections_and_refuses_new_requests() -> None:
    transport = LeanTransport(ssl.create_default_context(), max_in_flight=2)
    async with scripted(always_ok) as server, httpx.AsyncClient(transport=transport) as http:
        await http.get(server.url)
        await transport.aclose()
        with pytest.raises(httpx.ConnectError, match="closed"):
            await http.get(server.url)
    assert server.connections == 1

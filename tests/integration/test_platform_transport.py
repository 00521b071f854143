"""The client verifies TLS, honours a CA bundle and the proxy variables (IMS and Platform), and
bounds the requests in flight."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.proxy_support import LoopbackProxy
from worker.config import load_settings
from worker.errors import ConfigurationError, RetryableError
from worker.platform import PlatformClient, open_platform_client
from worker.platform.http import build_http_client

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class FakePlatform(BaseHTTPRequestHandler):
    """Answers a token request and any GET with an empty list; records each request line."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the Platform does
    seen: list[str]

    def do_POST(self) -> None:
        """Answer a token request."""
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer({"access_token": "tls-token", "expires_in": 3600})

    def do_GET(self) -> None:
        """Answer a list with no items."""
        self._answer({"items": []})

    def _answer(self, body: Any) -> None:
        self.seen.append(self.requestline)
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start fake servers on loopback (port 0); stop them after the test."""
    servers: list[ThreadingHTTPServer] = []

    def start(context: ssl.SSLContext | None = None) -> tuple[str, list[str]]:
        seen: list[str] = []
        handler = type("Handler", (FakePlatform,), {"seen": seen})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        scheme = "https" if context else "http"
        return f"{scheme}://127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (the openssl command)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed, so no test certificate can be made")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable set (upper or lower case); the test sets what it needs."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def tls_server(serve: Any, certificate: tuple[Path, Path]) -> tuple[str, list[str], Path]:
    """A TLS fake Platform and IMS on loopback: its port, its request lines, the CA to trust."""
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    url, seen = serve(context)
    return url.rsplit(":", 1)[1], seen, cert


def client(platform_url: str, ims_url: str, **overrides: Any) -> PlatformClient:
    """A client of the given Platform and IMS addresses."""
    settings = load_settings(
        {},
        client_id="id",
        client_secret="secret",
        org_id="org",
        platform_url=platform_url,
        ims_url=ims_url,
        **overrides,
    )
    return open_platform_client(settings)


async def test_tls_is_verified_and_the_ca_bundle_is_trusted_for_ims_and_platform(
    serve: Any, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    url, seen = serve(context)
    async with client(url, url) as untrusting:
        with pytest.raises(RetryableError, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusting.find_flow(None, "x")
    assert seen == []  # the handshake failed before any request was sent
    async with client(url, url, ca_bundle=str(cert)) as trusting:
        assert await trusting.find_flow(None, "x") is None
    assert [line.split()[0] for line in seen] == ["POST", "GET"]


async def test_http_proxy_forwards_ims_and_platform_calls_in_absolute_form(
    serve: Any, proxy_env: pytest.MonkeyPatch
) -> None:
    proxy, seen = serve()  # the fake server plays the proxy and records the request lines
    proxy_env.setenv("HTTP_PROXY", proxy)
    async with client("http://platform.invalid", "http://ims.invalid") as proxied:
        assert await proxied.find_flow(None, "x") is None
    assert seen[0].startswith("POST http://ims.invalid/ims/token/v3")
    assert seen[1].startswith("GET http://platform.invalid/data/foundation/flowservice/flows")


async def test_https_proxy_tunnels_ims_and_platform_calls_with_tls_to_the_origin(
    tls_server: tuple[str, list[str], Path], proxy_env: pytest.MonkeyPatch
) -> None:
    port, seen, cert = tls_server
    with LoopbackProxy() as proxy:
        proxy_env.setenv("HTTPS_PROXY", f"http://user:p%40ss@127.0.0.1:{proxy.port}")
        platform, ims = f"https://127.0.0.1:{port}", f"https://localhost:{port}"
        async with client(platform, ims, ca_bundle=str(cert)) as proxied:
            assert await proxied.find_flow(None, "x") is None
            assert await proxied.find_flow(None, "y") is None
    # One tunnel per origin, kept alive for the second call.
    assert proxy.seen == [f"CONNECT localhost:{port}", f"CONNECT 127.0.0.1:{port}"]
    assert proxy.authorizations == ["Basic dXNlcjpwQHNz"] * 2  # user:p@ss
    # TLS ran end to end: the server got every request, in origin form.
    assert [line.split()[0] for line in seen] == ["POST", "GET", "GET"]
    assert all(line.split()[1].startswith("/") for line in seen)


async def test_no_proxy_sends_the_listed_hosts_past_the_proxy(
    tls_server: tuple[str, list[str], Path], proxy_env: pytest.MonkeyPatch
) -> None:
    port, seen, cert = tls_server
    with LoopbackProxy() as proxy:
        proxy_env.setenv("HTTPS_PROXY", proxy.url)
        proxy_env.setenv("NO_PROXY", "example.com, localhost")
        platform, ims = f"https://127.0.0.1:{port}", f"https://localhost:{port}"
        async with client(platform, ims, ca_bundle=str(cert)) as proxied:
            assert await proxied.find_flow(None, "x") is None
    assert proxy.seen == [f"CONNECT 127.0.0.1:{port}"]  # IMS (localhost) went direct
    assert [line.split()[0] for line in seen] == ["POST", "GET"]


async def test_a_proxy_refusing_the_tunnel_is_retryable_and_nothing_is_sent(
    tls_server: tuple[str, list[str], Path], proxy_env: pytest.MonkeyPatch
) -> None:
    port, seen, cert = tls_server
    with LoopbackProxy() as proxy:
        proxy.refuse = 403
        proxy_env.setenv("HTTPS_PROXY", proxy.url)
        url = f"https://127.0.0.1:{port}"
        async with client(url, url, ca_bundle=str(cert)) as proxied:
            with pytest.raises(RetryableError, match="refused to CONNECT") as caught:
                await proxied.find_flow(None, "x")
    assert type(caught.value) is RetryableError
    assert seen == []


async def test_an_unreachable_platform_names_the_origin_it_tried(serve: Any) -> None:
    ims, _ = serve()
    with socket.create_server(("127.0.0.1", 0)) as reserved:
        port = reserved.getsockname()[1]
    platform = f"http://127.0.0.1:{port}"  # nothing listens there now
    async with client(platform, ims) as unreachable:
        with pytest.raises(RetryableError) as caught:
            await unreachable.create_flow(None, {})
    assert type(caught.value) is RetryableError  # nothing was sent, even for a POST
    assert str(caught.value) == (
        f"flowservice POST /flowservice/flows failed at {platform}: ConnectError "
        f"(cannot connect to 127.0.0.1:{port}: Connection refused)"
    )


def test_an_unreadable_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="DATAFLOW_CA_BUNDLE"):
        build_http_client(timeout_seconds=1, pool_size=1, ca_bundle=str(tmp_path / "missing.pem"))


def test_a_proxy_reached_over_tls_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="HTTPS_PROXY"):
        build_http_client(timeout_seconds=1, pool_size=1, proxies={"https": "https://proxy:3128"})


async def test_a_request_beyond_the_pool_size_waits_for_a_slot_then_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        async with build_http_client(timeout_seconds=0.5, pool_size=1) as http:
            holder = asyncio.ensure_future(http.get(url, timeout=10))
            connection, _ = await asyncio.to_thread(silent.accept)  # the holder has the slot
            with connection:
                with pytest.raises(httpx.PoolTimeout):
                    await http.get(url)
                connection.close()  # hang up on the holder
                with pytest.raises(httpx.TransportError):
                    await holder

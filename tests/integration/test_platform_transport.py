"""The client verifies TLS and honours a CA bundle and the proxy variables, for IMS and Platform."""

from __future__ import annotations

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

from worker.config import load_settings
from worker.errors import ConfigurationError, RetryableError
from worker.platform import PlatformClient, open_platform_client
from worker.platform.http import build_http_client

pytestmark = pytest.mark.integration


class FakePlatform(BaseHTTPRequestHandler):
    """Answers a token request and any GET with an empty list; records each request line."""

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
    """A self-signed certificate for 127.0.0.1 and its key, made with the openssl command."""
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
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


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


def test_tls_is_verified_and_the_ca_bundle_is_trusted_for_ims_and_platform(
    serve: Any, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    url, seen = serve(context)
    with client(url, url) as untrusting, pytest.raises(RetryableError):
        untrusting.find_flow(None, "x")
    assert seen == []  # the handshake failed before any request was sent
    with client(url, url, ca_bundle=str(cert)) as trusting:
        assert trusting.find_flow(None, "x") is None
    assert [line.split()[0] for line in seen] == ["POST", "GET"]


def test_the_proxy_variables_route_ims_and_platform_calls(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, seen = serve()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    with client("http://platform.invalid", "http://ims.invalid") as proxied:
        assert proxied.find_flow(None, "x") is None
    assert seen[0].startswith("POST http://ims.invalid/ims/token/v3")
    assert seen[1].startswith("GET http://platform.invalid/data/foundation/flowservice/flows")


def test_an_unreadable_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="DATAFLOW_CA_BUNDLE"):
        build_http_client(timeout_seconds=1, pool_size=1, ca_bundle=str(tmp_path / "missing.pem"))


def test_a_request_beyond_the_pool_size_waits_for_a_slot_then_times_out() -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
    http = build_http_client(timeout_seconds=0.5, pool_size=1)
    outcome: list[BaseException] = []

    def hold_the_only_slot() -> None:
        try:
            http.get(url, timeout=10)  # waits until the server hangs up
        except httpx.HTTPError as error:
            outcome.append(error)

    holder = threading.Thread(target=hold_the_only_slot)
    holder.start()
    silent.settimeout(10)
    connection, _ = silent.accept()  # the holder has its slot and waits for an answer
    try:
        with pytest.raises(httpx.PoolTimeout):
            http.get(url)
        connection.close()
        holder.join()
    finally:
        http.close()
        silent.close()
    (hung_up,) = outcome
    assert isinstance(hung_up, httpx.TransportError)

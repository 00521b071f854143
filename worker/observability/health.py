"""The HTTP server for ``/metrics``, ``/healthz`` and ``/readyz`` (``DATAFLOW_METRICS_ADDR``).

A stdlib ``ThreadingHTTPServer`` in a daemon thread: it needs no event loop and keeps answering
while the worker's threads are busy. ``/healthz`` says the process and its consumer loop are
alive; ``/readyz`` that the worker can take work (broker connected, ledger reachable, circuit
closed). Each probe is a callable returning named checks; the answer is 200 when all pass, else
503, with a short JSON body naming the failed checks.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from worker.errors import ConfigurationError

Checks = Callable[[], Mapping[str, bool]]

log = structlog.get_logger(__name__)


def parse_address(address: str) -> tuple[str, int]:
    """Split ``host:port`` (or ``[v6]:port``) into host and port; raise ConfigurationError."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        raise ConfigurationError(f"DATAFLOW_METRICS_ADDR: expected host:port, got {address!r}")
    port = int(port_text)
    if port > 65535:
        raise ConfigurationError(f"DATAFLOW_METRICS_ADDR: port {port} is out of range")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def evaluate(checks: Checks) -> dict[str, bool]:
    """Run a probe; a probe that raises counts as one failed check named ``probe``."""
    try:
        return {name: bool(ok) for name, ok in checks().items()}
    except Exception:  # a broken probe must answer 503, not kill the server thread
        log.warning("health_probe_crashed", exc_info=True)
        return {"probe": False}


def probe_response(results: Mapping[str, bool]) -> tuple[int, bytes]:
    """The status and JSON body of a probe: 200 when every check passes, else 503."""
    failed = sorted(name for name, ok in results.items() if not ok)
    body: dict[str, Any] = {"status": "fail" if failed else "ok", "checks": dict(results)}
    if failed:
        body["failed"] = failed
    return (503 if failed else 200), json.dumps(body, sort_keys=True).encode() + b"\n"


class WithoutCreated(Collector):
    """A view of a registry without the ``*_created`` samples prometheus-client adds.

    They hold each series' creation time; Prometheus would store them as one extra series per
    counter and histogram child, doubling the worker's series for nothing a dashboard uses.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        """The registry's families, minus their ``_created`` samples."""
        for family in self._registry.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


def _all_pass() -> Mapping[str, bool]:
    """A probe with no checks: always passes."""
    return {}


class _Server(ThreadingHTTPServer):
    """Carries what the handler needs; one thread per connection, daemonic."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], registry: CollectorRegistry, probes: dict[str, Checks]
    ) -> None:
        self.exposed = WithoutCreated(registry)
        self.probes = probes
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a failed request through structlog instead of printing it to stderr."""
        log.warning("health_request_failed", client=str(client_address[0]), exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """Answers GET on the three paths; 404 elsewhere."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        """Serve metrics or a probe."""
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, encoder(self.server.exposed), content_type)
        elif path in ("/healthz", "/readyz"):
            status, body = probe_response(evaluate(self.server.probes[path]))
            self._send(status, body, "application/json")
        else:
            self._send(404, b'{"status": "not found"}\n', "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        """Answer with a status, a content type and a body; a client that left is no error."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # e.g. a scrape that timed out
            log.debug("health_client_gone", path=self.path)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Route the access log through structlog at debug level instead of stderr."""
        log.debug("health_http_request", client=self.client_address[0], line=format % args)


class HealthServer:
    """Serves ``/metrics`` from the injected registry and the two probes, in a daemon thread."""

    def __init__(
        self,
        address: str,
        registry: CollectorRegistry,
        *,
        liveness: Checks = _all_pass,
        readiness: Checks = _all_pass,
    ) -> None:
        self._address = address
        self._bind = parse_address(address)
        self._registry = registry
        self._probes = {"/healthz": liveness, "/readyz": readiness}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind exactly the configured address and start serving; one-line error if taken."""
        try:
            self._server = _Server(self._bind, self._registry, self._probes)
        except OSError as error:
            reason = (
                "address already in use"
                if error.errno == errno.EADDRINUSE
                else (error.strerror or str(error))
            )
            raise ConfigurationError(
                f"DATAFLOW_METRICS_ADDR {self._address}: cannot listen: {reason}"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # how quickly stop() returns
            name="health-server",
            daemon=True,
        )
        self._thread.start()
        log.info("health_server_started", address=self.url)

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        log.info("health_server_stopped")

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        if self._server is None:
            raise RuntimeError("the health server is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL the server answers on."""
        host = self._bind[0]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    def __enter__(self) -> HealthServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

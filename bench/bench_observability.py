"""Observability costs: a redacted JSON log line, and one ``/metrics`` scrape of a fresh worker.

Logging runs the whole pipeline (context merge, timestamp, redaction with one known secret, JSON
rendering) into memory, so the number is the CPU a worker spends per line. The scrape renders the
text exposition of every pre-initialised series, as Prometheus receives it from the health server
(without the ``_created`` samples), and reports its size.
"""

from __future__ import annotations

import io
import logging
import time

import structlog
from prometheus_client import CollectorRegistry, generate_latest

from worker.observability.health import WithoutCreated
from worker.observability.logs import configure_logging
from worker.observability.metrics import Metrics

LINES = 20_000
SCRAPES = 200


def _log_lines() -> float:
    """Microseconds per redacted JSON line."""
    root = logging.getLogger()
    saved, handlers, level = structlog.get_config(), list(root.handlers), root.level
    configure_logging("json", "info", stream=io.StringIO(), secrets=["a-client-secret"])
    log = structlog.get_logger()
    try:
        with structlog.contextvars.bound_contextvars(
            request_id="crm-42", message_id="m-1", step="dataflow", attempt=1
        ):
            started = time.perf_counter()
            for _ in range(LINES):
                log.info("platform_request", api="flowservice", method="POST", status=201)
            return (time.perf_counter() - started) / LINES * 1e6
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


def _scrape() -> tuple[float, int, int]:
    """Milliseconds per scrape, bytes and lines of one exposition."""
    registry = CollectorRegistry()
    Metrics(registry)
    exposed = WithoutCreated(registry)
    started = time.perf_counter()
    for _ in range(SCRAPES):
        text = generate_latest(exposed)
    elapsed = (time.perf_counter() - started) / SCRAPES * 1e3
    return elapsed, len(text), len(text.splitlines())


def main() -> None:
    """Print the two measurements."""
    per_line = _log_lines()
    print(f"log line (JSON, redacted): {per_line:.1f} us, {1e6 / per_line:,.0f} lines/s")
    per_scrape, size, lines = _scrape()
    print(f"/metrics of a fresh worker: {per_scrape:.2f} ms, {size:,} bytes, {lines} lines")


if __name__ == "__main__":
    main()

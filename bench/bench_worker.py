"""The worker end to end: throughput against a slow Platform, CPU per dataflow, one alone.

Everything is real and separate, as in production: RabbitMQ on loopback, the emulator in its own
process, the worker as ``python -m worker run`` with a SQLite ledger, then (when reachable) a
fresh PostgreSQL database. Per ledger:

* 600 requests at 50 ms emulator latency with ``DATAFLOW_CONCURRENCY=32``: the wall time from
  the first Platform call to the last terminal event; ``k``, the Platform calls per dataflow as
  the emulator counted them; the six-call floor ``N * 6 * L / C`` (a worker that made its six
  calls one after another, C dataflows at a time, could not be faster) and the wall time's
  share of it (target <= 1 / 1.15); the floor of the critical path of parallel steps
  (``N * 4 * L / C``: schema, dataset, target connection, flow; the source connection and the
  mapping set run beside them).
* 1,000 requests at 0 ms latency: the worker process's CPU time (user + system, read from
  ``/proc/<pid>/stat``) from publishing to the last terminal event, per dataflow (target <= 4 ms).
* One dataflow at a time at 100 ms latency, five times: publish to ``DataflowCreated`` (target
  <= 5 x L: four round trips on the critical path, plus the worker's own time).

Numbers, not pass/fail. On a shared two-core machine the emulator, RabbitMQ and the worker
compete for the same cores, which the wall times include.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import kombu

from emulator.testing import Emulator
from tests.integration.harness import TEST_SECRET, delete_topology, free_port, wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import postgres_database
from worker.broker.topology import EVENT_KEYS
from worker.config import BrokerTarget
from worker.onboarding.manifest import ManifestItem
from worker.onboarding.requests import prepare, publish_requests

BROKER_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUESTS = 600  # at 50 ms latency
CPU_REQUESTS = 1000  # at 0 ms latency
ALONE_RUNS = 5  # one dataflow at a time, at 100 ms latency
CONCURRENCY = 32
LATENCY_MS = 50
ALONE_LATENCY_MS = 100
CRITICAL_PATH_CALLS = 4  # schema, dataset, target connection, flow (the rest run beside them)
POSTGRES_SPEC_ID = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
_SERVE = (
    "import sys\n"
    "from emulator.app import EmulatorConfig\n"
    "from emulator.server import serve\n"
    "serve(EmulatorConfig(request_log_size=int(sys.argv[2])), port=int(sys.argv[1]))\n"
)


@dataclass(frozen=True)
class Run:
    """What one run measured."""

    requests: int
    wall_seconds: float
    platform_calls: int
    cpu_seconds: float
    failed: int
    from_publish_seconds: float = 0.0

    @property
    def k(self) -> float:
        """Platform calls per dataflow."""
        return self.platform_calls / self.requests


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a live process, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TerminalCounter:
    """Counts terminal events on a queue bound only to their routing keys."""

    def __init__(self, prefix: str) -> None:
        self.connection = kombu.Connection(BROKER_URL)
        exchange = kombu.Exchange(f"{prefix}.events", type="topic", durable=True)
        keys = (EVENT_KEYS["DataflowCreated"], EVENT_KEYS["DataflowFailed"])
        self.queues = [
            kombu.Queue(
                f"{prefix}.bench-terminal",
                bindings=[kombu.binding(exchange, routing_key=key) for key in keys],
                exclusive=True,
            )
        ]
        self.created = self.failed = 0
        self.consumer = kombu.Consumer(
            self.connection.channel(), self.queues, callbacks=[self._on_message], no_ack=True
        )
        self.consumer.consume()

    def _on_message(self, body: object, message: kombu.Message) -> None:
        if message.properties.get("type") == "DataflowFailed":
            self.failed += 1
        else:
            self.created += 1

    def wait(self, total: int, timeout: float) -> float:
        """Wait until ``total`` terminal events arrived; return the time of the last one."""
        deadline = time.monotonic() + timeout
        while self.created + self.failed < total:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.created + self.failed} of {total} finished in time")
            try:
                self.connection.drain_events(timeout=1)
            except TimeoutError:
                continue
        return time.time()

    def close(self) -> None:
        """Disconnect (the queue is exclusive and goes with the connection)."""
        self.connection.release()


def start_emulator(log_dir: Path) -> tuple[subprocess.Popen[bytes], Emulator]:
    """The emulator in its own process with a request log that holds every call."""
    port = free_port()
    log = (log_dir / "emulator.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(port), str(20 * CPU_REQUESTS)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    emulator = Emulator(f"http://127.0.0.1:{port}")

    def answers() -> bool:
        try:
            return httpx.get(f"{emulator.url}/__emulator/faults", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, timeout=30, what="the emulator")
    return process, emulator


def start_worker(
    log_dir: Path, prefix: str, emulator: Emulator, state_url: str, concurrency: int = CONCURRENCY
) -> subprocess.Popen[bytes]:
    """``python -m worker run`` on its own topology prefix and ledger, once ready."""
    metrics = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "DATAFLOW_BROKER_URL": BROKER_URL,
        "DATAFLOW_STATE_URL": state_url,
        "DATAFLOW_TOPOLOGY_PREFIX": prefix,
        "DATAFLOW_PLATFORM_URL": emulator.url,
        "DATAFLOW_IMS_URL": emulator.url,
        "DATAFLOW_CLIENT_ID": "bench",
        "DATAFLOW_CLIENT_SECRET": TEST_SECRET,
        "DATAFLOW_ORG_ID": emulator.org,
        "DATAFLOW_CONCURRENCY": str(concurrency),
        "DATAFLOW_METRICS_ADDR": metrics,
    }
    log = (log_dir / f"worker-{prefix}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "run"], env=env, stdout=log, stderr=subprocess.STDOUT
    )

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited; see {log.name}")
        try:
            return httpx.get(f"http://{metrics}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, timeout=60, what="the worker to be ready", interval=0.1)
    return process


def measure(
    log_dir: Path,
    emulator: Emulator,
    *,
    requests: int,
    latency_ms: int,
    state_url: str | None,
    concurrency: int = CONCURRENCY,
) -> Run:
    """Publish ``requests`` to a ready worker and time them to the last terminal event."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    state_url = state_url or f"sqlite:///{log_dir / (prefix + '.db')}"
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    emulator.set_faults({"latency_ms": latency_ms} if latency_ms else {})
    items = [
        ManifestItem(f"item {n}", sample_request(f"bench-{prefix}-{n}", base))
        for n in range(requests)
    ]
    prepared, _ = prepare(items, source="urn:bench")
    counter = TerminalCounter(prefix)
    worker = start_worker(log_dir, prefix, emulator, state_url, concurrency)
    try:
        calls_before = len(emulator.requests())
        cpu_before = cpu_seconds(worker.pid)
        published = time.time()
        publish_requests(BrokerTarget(BROKER_URL), prefix, prepared)
        finished = counter.wait(requests, timeout=600)
        cpu = cpu_seconds(worker.pid) - cpu_before
    finally:
        worker.terminate()
        worker.wait(60)
        counter.close()
        delete_topology(BROKER_URL, prefix)
    calls = [c for c in emulator.requests()[calls_before:] if c["path"].startswith("/data/")]
    first = _epoch(calls[0]["time"])
    return Run(requests, finished - first, len(calls), cpu, counter.failed, finished - published)


def _epoch(rfc3339: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def report(label: str, slow: Run, fast: Run, alone: list[Run]) -> None:
    """Print one ledger's figures, each beside its target."""
    six_call_floor = slow.requests * 6 * (LATENCY_MS / 1000) / CONCURRENCY
    path_floor = slow.requests * CRITICAL_PATH_CALLS * (LATENCY_MS / 1000) / CONCURRENCY
    print(
        f"[{label}] {slow.requests} dataflows at {LATENCY_MS} ms latency, concurrency "
        f"{CONCURRENCY}: wall {slow.wall_seconds:.2f} s (from publishing: "
        f"{slow.from_publish_seconds:.2f} s), {slow.failed} failed"
    )
    print(f"[{label}] k = {slow.k:.2f} Platform calls per dataflow (target <= 6.1)")
    print(
        f"[{label}] six-call floor N*6*L/C = {six_call_floor:.2f} s; wall / floor = "
        f"{slow.wall_seconds / six_call_floor:.2f} (target <= {1 / 1.15:.2f}); critical-path "
        f"floor N*{CRITICAL_PATH_CALLS}*L/C = {path_floor:.2f} s"
    )
    print(
        f"[{label}] worker CPU at 0 ms latency, {fast.requests} dataflows: "
        f"{1000 * fast.cpu_seconds / fast.requests:.2f} ms per dataflow (target <= 4); "
        f"at {LATENCY_MS} ms: {1000 * slow.cpu_seconds / slow.requests:.2f} ms; "
        f"0 ms wall {fast.wall_seconds:.2f} s, {fast.failed} failed"
    )
    times = sorted(run.from_publish_seconds for run in alone)
    median = times[len(times) // 2]
    print(
        f"[{label}] one dataflow alone at {ALONE_LATENCY_MS} ms latency, publish to "
        f"DataflowCreated: median {1000 * median:.0f} ms of {len(times)} "
        f"({', '.join(f'{1000 * t:.0f}' for t in times)}) (target <= "
        f"{5 * ALONE_LATENCY_MS} ms = 5 x L)"
    )


def ledgers(stack: ExitStack) -> Iterator[tuple[str, str | None]]:
    """The ledgers to measure: SQLite always, PostgreSQL when it is reachable."""
    yield "sqlite", None
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
    except OSError:
        print("[postgresql] skipped: not reachable on 127.0.0.1:5432")
        return
    yield "postgresql", stack.enter_context(postgres_database(POSTGRES_URL))


def main() -> None:
    """Run the measurements for each ledger and print the report."""
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            pass
    except OSError:
        print("skipped: RabbitMQ is not reachable on 127.0.0.1:5672")
        return
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as directory, ExitStack() as stack:
        log_dir = Path(directory)
        process, emulator = start_emulator(log_dir)
        try:
            for label, state_url in ledgers(stack):
                slow = measure(
                    log_dir, emulator, requests=REQUESTS, latency_ms=LATENCY_MS, state_url=state_url
                )
                fast = measure(
                    log_dir, emulator, requests=CPU_REQUESTS, latency_ms=0, state_url=state_url
                )
                alone = [
                    measure(
                        log_dir,
                        emulator,
                        requests=1,
                        latency_ms=ALONE_LATENCY_MS,
                        state_url=state_url,
                    )
                    for _ in range(ALONE_RUNS)
                ]
                report(label, slow, fast, alone)
        finally:
            emulator.close()
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()

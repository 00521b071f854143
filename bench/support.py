"""What the end-to-end benchmarks share: the emulator and workers as processes, and measuring.

Everything is real and separate, as in production: RabbitMQ on loopback, the emulator in its own
process, each worker as ``python -m worker run``. A run publishes its requests (or queues them
before any worker starts), counts the terminal events with their arrival times, and reads the
workers' CPU time and memory from ``/proc``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import kombu

from emulator.testing import Emulator
from tests.integration.harness import TEST_SECRET, delete_topology, free_port, wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import postgres_database
from worker.broker.topology import EVENT_KEYS
from worker.config import BrokerTarget
from worker.onboarding.manifest import ManifestItem
from worker.onboarding.requests import Prepared, prepare, publish_requests

BROKER_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
POSTGRES_SPEC_ID = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
CRITICAL_PATH_CALLS = 4  # schema, dataset, target connection, flow (the rest run beside them)
_SERVE = (
    "import sys\n"
    "from emulator.app import EmulatorConfig\n"
    "from emulator.server import serve\n"
    "serve(EmulatorConfig(request_log_size=int(sys.argv[2])), port=int(sys.argv[1]))\n"
)


def reachable(port: int) -> bool:
    """True when something listens on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a live process, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CpuReading = dict[int, tuple[str, float]]


def service_cpu(emulator_url: str, state_url: str) -> CpuReading:
    """CPU seconds so far of each process of the services one run uses: ``{pid: (party, s)}``.

    Counted: RabbitMQ (``beam.smp``); PostgreSQL's own processes and its backends serving the
    run's database (``state_url``), not those of other databases; the run's emulator (the one
    listening on ``emulator_url``'s port), not another emulator on the machine.
    """
    database = urllib.parse.urlsplit(state_url).path.lstrip("/")
    port = str(urllib.parse.urlsplit(emulator_url).port)
    reading: CpuReading = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            comm = (entry / "comm").read_text().strip()
            seconds = cpu_seconds(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
        party = _party(comm, arguments, database, port)
        if party is not None:
            reading[int(entry.name)] = (party, seconds)
    return reading


def _party(comm: str, arguments: list[str], database: str, port: str) -> str | None:
    if comm == "beam.smp":
        return "rabbitmq"
    if comm == "postgres":
        title = " ".join(arguments)
        is_backend = "(" in title or "[local]" in title  # "postgres: ... user db host(port) ..."
        return "postgresql" if not is_backend or f" {database} " in title else None
    if _SERVE in arguments and port in arguments:
        return "emulator"
    return None


def cpu_used(before: CpuReading, after: CpuReading) -> dict[str, float]:
    """CPU seconds each party used between two readings: the processes alive at the second,
    from zero for those started in between (one that ended took its time with it, so these
    are lower bounds, never negative)."""
    used = {"rabbitmq": 0.0, "postgresql": 0.0, "emulator": 0.0}
    for pid, (party, seconds) in after.items():
        earlier = before.get(pid)
        used[party] += seconds - (earlier[1] if earlier and earlier[0] == party else 0.0)
    return used


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident memory now and at its peak (``VmRSS``, ``VmHWM``), in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def epoch(rfc3339: str) -> float:
    """Seconds since the epoch of an RFC 3339 time."""
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


class TerminalCounter:
    """Counts terminal events (with their arrival times) on a queue bound to their keys only."""

    def __init__(self, prefix: str) -> None:
        self.connection = kombu.Connection(BROKER_URL)
        exchange = kombu.Exchange(f"{prefix}.events", type="topic", durable=True)
        keys = (EVENT_KEYS["DataflowCreated"], EVENT_KEYS["DataflowFailed"])
        queue = kombu.Queue(
            f"{prefix}.bench-terminal",
            bindings=[kombu.binding(exchange, routing_key=key) for key in keys],
            exclusive=True,
        )
        self.created = self.failed = 0
        self.arrivals: list[float] = []
        self.consumer = kombu.Consumer(
            self.connection.channel(), [queue], callbacks=[self._on_message], no_ack=True
        )
        self.consumer.consume()

    def _on_message(self, body: object, message: kombu.Message) -> None:
        self.arrivals.append(time.time())
        if message.properties.get("type") == "DataflowFailed":
            self.failed += 1
        else:
            self.created += 1

    @property
    def finished(self) -> int:
        """Terminal events so far."""
        return self.created + self.failed

    def wait(self, total: int, timeout: float) -> float:
        """Wait until ``total`` terminal events arrived; return the time of the last one."""
        deadline = time.monotonic() + timeout
        while self.finished < total:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.finished} of {total} finished in time")
            try:
                self.connection.drain_events(timeout=1)
            except TimeoutError:
                continue
        return self.arrivals[-1]

    def close(self) -> None:
        """Disconnect (the queue is exclusive and goes with the connection)."""
        self.connection.release()


@contextmanager
def emulator_process(log_dir: Path, request_log: int = 20_000) -> Iterator[Emulator]:
    """The emulator in its own process, with a request log of ``request_log`` calls."""
    port = free_port()
    log = (log_dir / "emulator.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(port), str(request_log)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    emulator = Emulator(f"http://127.0.0.1:{port}")

    def answers() -> bool:
        try:
            return httpx.get(f"{emulator.url}/__emulator/faults", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(answers, timeout=30, what="the emulator")
        yield emulator
    finally:
        emulator.close()
        process.terminate()
        process.wait(30)


@dataclass
class WorkerProcess:
    """``python -m worker run`` and the address of its metrics."""

    process: subprocess.Popen[bytes]
    metrics: str

    @property
    def pid(self) -> int:
        """Its process id."""
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM, then wait for the drain."""
        self.process.terminate()
        self.process.wait(60)


def start_worker(
    log_dir: Path,
    prefix: str,
    emulator: Emulator,
    state_url: str,
    concurrency: int,
    settings: Mapping[str, str] | None = None,
    *,
    wait_ready: bool = True,
) -> WorkerProcess:
    """A worker on its topology prefix and ledger; ``settings``: more ``DATAFLOW_*`` values."""
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
        **{f"DATAFLOW_{key.upper()}": value for key, value in (settings or {}).items()},
    }
    log = (log_dir / f"worker-{prefix}-{metrics.rsplit(':', 1)[1]}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "run"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    worker = WorkerProcess(process, metrics)

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited; see {log.name}")
        try:
            return httpx.get(f"http://{metrics}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    if wait_ready:
        wait_until(ready, timeout=60, what="the worker to be ready", interval=0.1)
    return worker


def prepared_requests(emulator: Emulator, prefix: str, count: int) -> list[Prepared]:
    """``count`` valid requests on a fresh base connection, ready to publish."""
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    items = [
        ManifestItem(f"item {n}", sample_request(f"bench-{prefix}-{n}", base)) for n in range(count)
    ]
    prepared, invalid = prepare(items, source="urn:bench")
    assert not invalid
    return prepared


def publish(prefix: str, prepared: Sequence[Prepared]) -> None:
    """Publish with confirms on the prefix's topology (declared first)."""
    publish_requests(BrokerTarget(BROKER_URL), prefix, list(prepared))


@dataclass
class Run:
    """What one run measured: dataflows, times, Platform calls, and the workers' resources."""

    requests: int
    concurrency: int
    latency_ms: float
    workers: int
    wall_seconds: float
    from_publish_seconds: float
    platform_calls: int
    cpu_seconds: float
    failed: int
    arrivals: list[float] = field(default_factory=list)
    throttled: int = 0  # Platform calls answered 429
    service_cpu_seconds: dict[str, float] = field(default_factory=dict)  # by party, same span

    @property
    def k(self) -> float:
        """Platform calls per dataflow."""
        return self.platform_calls / self.requests

    @property
    def throughput(self) -> float:
        """Dataflows per second over the wall time."""
        return self.requests / self.wall_seconds

    def summary(self) -> dict[str, float | int]:
        """The figures, for the JSON results."""
        return {
            "requests": self.requests,
            "concurrency": self.concurrency,
            "latency_ms": self.latency_ms,
            "workers": self.workers,
            "wall_seconds": round(self.wall_seconds, 3),
            "from_publish_seconds": round(self.from_publish_seconds, 3),
            "throughput_per_second": round(self.throughput, 2),
            "platform_calls_per_dataflow": round(self.k, 2),
            "cpu_ms_per_dataflow": round(1000 * self.cpu_seconds / self.requests, 2),
            "failed": self.failed,
        }


def measure(
    log_dir: Path,
    emulator: Emulator,
    *,
    requests: int,
    latency_ms: float,
    concurrency: int,
    state_url: str | None = None,
    workers: int = 1,
    timeout: float = 900,
    faults: Mapping[str, Any] | None = None,
    **settings: str,
) -> Run:
    """Start ``workers`` workers, publish ``requests``, time them to the last terminal event.

    The wall time runs from the first Platform call to the last terminal event, so the
    publishing itself (a client's cost, not the worker's) does not count. ``faults``: more of
    the emulator's fault settings beside the latency (set after the requests are prepared).
    """
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    state_url = state_url or f"sqlite:///{log_dir / (prefix + '.db')}"
    # Each run on an empty emulator: its request log (bounded) holds this run's calls alone, and
    # what earlier runs created does not slow this one's look-ups.
    emulator.reset()
    emulator.set_faults({"latency_ms": latency_ms} if latency_ms else {})
    prepared = prepared_requests(emulator, prefix, requests)
    if faults:
        emulator.set_faults({"latency_ms": latency_ms, **faults})
    counter = TerminalCounter(prefix)
    with ExitStack() as stack:
        running = []
        for _ in range(workers):
            worker = start_worker(log_dir, prefix, emulator, state_url, concurrency, settings)
            stack.callback(worker.stop)
            running.append(worker)
        stack.callback(delete_topology, BROKER_URL, prefix)
        stack.callback(counter.close)
        calls_before = len(emulator.requests())
        cpu_before = sum(cpu_seconds(w.pid) for w in running)
        services_before = service_cpu(emulator.url, state_url)
        published = time.time()
        publish(prefix, prepared)
        finished = counter.wait(requests, timeout=timeout)
        cpu = sum(cpu_seconds(w.pid) for w in running) - cpu_before
        # read while the workers run: their database backends end with them
        services = cpu_used(services_before, service_cpu(emulator.url, state_url))
    calls = [c for c in emulator.requests()[calls_before:] if c["path"].startswith("/data/")]
    first = epoch(calls[0]["time"])
    return Run(
        requests=requests,
        concurrency=concurrency,
        latency_ms=latency_ms,
        workers=workers,
        wall_seconds=finished - first,
        from_publish_seconds=finished - published,
        platform_calls=len(calls),
        cpu_seconds=cpu,
        failed=counter.failed,
        arrivals=list(counter.arrivals),
        throttled=sum(1 for c in calls if c["status"] == 429),
        service_cpu_seconds=services,
    )


@contextmanager
def postgres_ledger() -> Iterator[str | None]:
    """A fresh PostgreSQL ledger database, or None when PostgreSQL is not reachable."""
    if not reachable(5432):
        yield None
        return
    with postgres_database(POSTGRES_URL) as url:
        yield url


class Sampler:
    """Samples a process's resident memory and a counter every ``interval`` seconds."""

    def __init__(self, pid: int, counter: TerminalCounter, interval: float = 0.5) -> None:
        self.samples: list[tuple[float, float, int]] = []  # (time, RSS MB, finished)
        self._pid, self._counter, self._interval = pid, counter, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                rss, _ = memory_mb(self._pid)
            except OSError:
                return
            self.samples.append((time.time(), rss, self._counter.finished))

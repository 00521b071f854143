"""Process harness for end-to-end tests: the emulator and workers as subprocesses, event capture.

Everything here talks to real things: the emulator over HTTP, RabbitMQ through kombu, the worker
as a ``python -m worker run`` process configured only by environment variables. Each helper
cleans up after itself; every wait has a timeout and says what it was waiting for.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
from kombu import Connection, Exchange, Queue

from emulator.testing import POSTGRES_SPEC_ID

REPO = Path(__file__).resolve().parents[2]
TEST_SECRET = "test-secret"
TERMINAL = frozenset({"DataflowCreated", "DataflowUpdated", "DataflowDeleted", "DataflowFailed"})
RESOURCE_KINDS = (
    "sourceConnections",
    "targetConnections",
    "flows",
    "schemas",
    "dataSets",
    "mappingSets",
)


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unique(prefix: str = "t") -> str:
    """A short unique name for topology prefixes, request ids and schemas."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def wait_until(
    condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail saying ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def run_command(
    args: list[str], env: Mapping[str, str], *, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``dataflow-worker ARGS`` as a process, its DATAFLOW_* settings only those of ``env``."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("DATAFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        env={**inherited, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ManagedProcess:
    """A subprocess whose output goes to a log file, stopped by signal with a timeout."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.args = args
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (appending to its log)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
            )

    @property
    def running(self) -> bool:
        """True while the process has not exited."""
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        """Send a signal (SIGKILL for a crash, SIGTERM for a graceful stop)."""
        assert self.process is not None
        with suppress(ProcessLookupError):
            self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """Wait for the exit code; fail with the log's tail if it takes longer than ``timeout``."""
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.args[3:4]} did not exit within {timeout} s; log:\n{self.log_tail()}"
            ) from None

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; no-op when already stopped."""
        if self.process is None:
            return None
        if self.running:
            self.signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
        return self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the process printed."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


class EmulatorProcess(ManagedProcess):
    """``dataflow-worker emulator`` on a free port, driven through its control surface."""

    def __init__(
        self,
        log_dir: Path,
        *,
        latency_ms: float = 0,
        faults: Mapping[str, Any] | None = None,
        clients: Iterable[str] = (),
        port: int | None = None,
        state_file: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        args = [sys.executable, "-m", "worker", "emulator", "--port", str(self.port)]
        if latency_ms:
            args += ["--latency-ms", str(latency_ms)]
        if faults:
            args += ["--fault-json", json.dumps(dict(faults))]
        for client in clients:
            args += ["--client", client]
        if state_file is not None:
            args += ["--state-file", str(state_file)]
        super().__init__(args, {}, log_dir / f"emulator-{self.port}.log")
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def start(self) -> None:
        """Start and wait until the control surface answers."""
        super().start()
        wait_until(self._answers, timeout=30, what=f"the emulator on {self.url}")

    def _answers(self) -> bool:
        if not self.running:
            raise AssertionError(f"the emulator exited; log:\n{self.log_tail()}")
        try:
            return self.http.get("/__emulator/faults").status_code == 200
        except httpx.TransportError:
            return False

    def resources(self) -> dict[str, list[dict[str, Any]]]:
        """Every resource the emulator holds, by kind."""
        answer: dict[str, list[dict[str, Any]]] = self._json("GET", "/__emulator/resources")
        return answer

    def requests(self) -> list[dict[str, Any]]:
        """The most recent requests, oldest first (bounded)."""
        answer: list[dict[str, Any]] = self._json("GET", "/__emulator/requests")
        return answer

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        """Replace the fault settings."""
        self._json("POST", "/__emulator/faults", dict(faults))

    def platform(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        client: tuple[str, str] = ("test", "s"),
    ) -> Any:
        """Call a Platform API as a user would (a fresh token; the ``prod`` sandbox)."""
        form = {
            "grant_type": "client_credentials",
            "client_id": client[0],
            "client_secret": client[1],
        }
        token = self._json("POST", "/ims/token/v3", form=form)["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": client[0],
            "x-gw-ims-org-id": "TESTORG@AdobeOrg",
            "x-sandbox-name": "prod",
        }
        return self._json(method, f"/data/foundation{path}", body, headers=headers)

    def create_base_connection(
        self, name: str = "crm database", *, client: tuple[str, str] = ("test", "s")
    ) -> str:
        """Create a PostgreSQL base connection through Flow Service and return its id."""
        body = {
            "name": name,
            "auth": {
                "specName": "Connection String Based Authentication",
                "params": {"connectionString": "Server=db;Port=5432;Database=crm;UID=u;PWD=p"},
            },
            "connectionSpec": {"id": POSTGRES_SPEC_ID, "version": "1.0"},
        }
        answer = self.platform("POST", "/flowservice/connections", body, client=client)
        return str(answer["id"])

    def counts(self) -> dict[str, int]:
        """How many resources of each kind the dataflows use."""
        resources = self.resources()
        return {kind: len(resources.get(kind, [])) for kind in RESOURCE_KINDS}

    def _json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        for _ in range(20):  # control calls are exempt from faults, the Platform paths are not
            response = self.http.request(
                method, path, json=body, data=form, headers=dict(headers or {})
            )
            if response.status_code < 500 and response.status_code != 429:
                break
            time.sleep(0.05)
        response.raise_for_status()
        return response.json() if response.content else None

    def stop(self, timeout: float = 20) -> int | None:
        """Stop the process and close the HTTP client."""
        self.http.close()
        return super().stop(timeout)


def worker_env(
    *,
    broker_url: str,
    state_url: str,
    prefix: str,
    platform_url: str,
    metrics_port: int,
    concurrency: int = 8,
    client_secret: str = TEST_SECRET,
    **extra: str,
) -> dict[str, str]:
    """The environment of a worker process: every setting explicit, nothing from ``.env``."""
    env = {
        "DATAFLOW_BROKER_URL": broker_url,
        "DATAFLOW_STATE_URL": state_url,
        "DATAFLOW_TOPOLOGY_PREFIX": prefix,
        "DATAFLOW_PLATFORM_URL": platform_url,
        "DATAFLOW_IMS_URL": platform_url,
        "DATAFLOW_CLIENT_ID": "test-client",
        "DATAFLOW_CLIENT_SECRET": client_secret,
        "DATAFLOW_ORG_ID": "TESTORG@AdobeOrg",
        "DATAFLOW_CONCURRENCY": str(concurrency),
        "DATAFLOW_METRICS_ADDR": f"127.0.0.1:{metrics_port}",
        "DATAFLOW_LOG_FORMAT": "json",
        "DATAFLOW_LOG_LEVEL": "info",
    }
    env.update({f"DATAFLOW_{key.upper()}": value for key, value in extra.items()})
    return env


class WorkerProcess(ManagedProcess):
    """``dataflow-worker run`` as a subprocess, with its own metrics port."""

    def __init__(self, log_dir: Path, env: Mapping[str, str], *, args: Iterable[str] = ()) -> None:
        self.metrics_addr = env["DATAFLOW_METRICS_ADDR"]
        name = f"worker-{uuid.uuid4().hex[:6]}"
        command = [sys.executable, "-m", "worker", "run", *args]
        super().__init__(command, env, log_dir / f"{name}.log")

    def readyz(self) -> int | None:
        """The status of ``/readyz``, or ``None`` while nothing listens."""
        try:
            return httpx.get(f"http://{self.metrics_addr}/readyz", timeout=2).status_code
        except httpx.TransportError:
            return None


class EventCollector:
    """A private queue bound to ``<prefix>.events`` that collects every event as a dict."""

    def __init__(self, broker_url: str, prefix: str) -> None:
        self.connection = Connection(broker_url)
        self.events: list[dict[str, Any]] = []
        exchange = Exchange(f"{prefix}.events", type="topic", durable=True)
        self.queue = Queue(
            f"{prefix}.test-events.{uuid.uuid4().hex[:6]}",
            exchange=exchange,
            routing_key="#",
            exclusive=True,
            auto_delete=True,
        )
        self.channel = self.connection.channel()
        self.queue.bind(self.channel).declare()

    def drain(self, timeout: float = 0.2) -> None:
        """Move every waiting event into ``events``."""
        bound = self.queue.bind(self.channel)
        deadline = time.monotonic() + timeout
        while True:
            message = bound.get(no_ack=True)
            if message is not None:
                self.events.append(json.loads(message.body))
                continue
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)

    def terminal(self) -> dict[str, list[dict[str, Any]]]:
        """Terminal events by request id, in arrival order."""
        found: dict[str, list[dict[str, Any]]] = {}
        for event in self.events:
            if event.get("type") in TERMINAL:
                found.setdefault(event["data"].get("request_id"), []).append(event)
        return found

    def wait_for_terminal(
        self, request_ids: Iterable[str], *, timeout: float
    ) -> dict[str, list[dict[str, Any]]]:
        """Wait until every request id has a terminal event; return them all."""
        wanted = set(request_ids)

        def done() -> bool:
            self.drain(0)
            return wanted <= set(self.terminal())

        try:
            wait_until(done, timeout=timeout, what="terminal events", interval=0.1)
        except AssertionError:
            missing = sorted(wanted - set(self.terminal()))
            raise AssertionError(
                f"{len(missing)} of {len(wanted)} requests have no terminal event: {missing[:5]}"
            ) from None
        return self.terminal()

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        """The collected events of one type."""
        return [event for event in self.events if event.get("type") == event_type]

    def close(self) -> None:
        """Delete the private queue and disconnect."""
        with suppress(Exception):
            self.queue.bind(self.channel).delete()
        self.connection.release()


@contextmanager
def collecting_events(broker_url: str, prefix: str) -> Iterator[EventCollector]:
    """An :class:`EventCollector` for the duration of a ``with`` block."""
    collector = EventCollector(broker_url, prefix)
    try:
        yield collector
    finally:
        collector.close()


def delete_topology(broker_url: str, prefix: str) -> None:
    """Delete every queue and exchange whose name a test's prefix produced."""
    from worker.broker.topology import Topology

    names = Topology(prefix).entity_names()
    with Connection(broker_url) as connection:
        channel = connection.channel()
        for name in names:
            with suppress(Exception):
                if name.endswith(("commands", "events")):
                    channel.exchange_delete(name)
                else:
                    channel.queue_delete(name)
            if not channel.is_open:
                channel = connection.channel()

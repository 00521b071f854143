"""The embedded demo: a worker, a broker, a ledger and the Platform emulator in one process.

Nothing outside the process is used: kombu's in-process ``memory://`` transport is the broker,
SQLite in a temporary directory is the ledger, the emulator serves on a free loopback port in a
thread, with faults injected so the retries show. The shipped sample manifest
(``worker/onboarding/samples/shop.yaml``) is onboarded end to end and the outcome of each table
returned.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import kombu

from emulator.app import EmulatorConfig
from emulator.server import ServerThread
from emulator.testing import Emulator
from messages import resolve_connector
from worker.broker import connection as broker
from worker.config import BrokerTarget, Settings, load_settings
from worker.core.steps import plan
from worker.core.text import plural
from worker.errors import ConfigurationError
from worker.onboarding.manifest import ManifestItem, parse_manifest, read_manifest
from worker.onboarding.requests import Prepared, prepare, publish_requests, worker_source

DEFAULT_FAULTS: dict[str, Any] = {
    "latency_ms": [2, 25],
    "errors": {"503": 0.10},
    "throttle": {"rate": 0.05, "retry_after_s": 1},
}
"""What the demo's Platform does wrong: 10% 503, 5% 429 (retry after 1 s), a little latency."""

_CLIENT = ("dataflow-demo", "demo-secret")
_ORG = "DEMO0000000000000000000@AdobeOrg"
_TERMINAL = ("DataflowCreated", "DataflowFailed")


@dataclass(frozen=True)
class DemoOptions:
    """How the demo runs; the defaults are what ``dataflow-worker demo`` does."""

    manifest: str | None = None
    faults: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_FAULTS))
    concurrency: int = 8
    timeout_seconds: float = 50.0


@dataclass(frozen=True)
class TableOutcome:
    """How one table ended: its dataflow, or why there is none."""

    table: str
    request_id: str
    outcome: str
    flow_id: str | None = None
    attempts: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class DemoResult:
    """Every table's outcome and what the Platform saw."""

    tables: list[TableOutcome]
    seconds: float
    platform_calls: int
    faults_injected: int

    @property
    def created(self) -> int:
        """How many dataflows were created."""
        return sum(1 for table in self.tables if table.outcome == "created")

    @property
    def succeeded(self) -> bool:
        """True when every table has its dataflow."""
        return self.created == len(self.tables)

    def summary(self) -> str:
        """One line: created, failed, time, Platform calls and injected faults."""
        failed = len(self.tables) - self.created
        return (
            f"{plural(self.created, 'dataflow')} created, {failed} failed in {self.seconds:.1f} s; "
            f"{self.platform_calls} Platform calls, {self.faults_injected} of them answered "
            "with an injected 429 or 5xx and retried"
        )


Progress = Callable[[str, Mapping[str, Any]], None]
"""Called with each event's type and data as it arrives."""


def load_requests(manifest: str | None, base_connection_id: str) -> list[ManifestItem]:
    """The demo's requests: the shipped sample (or ``manifest``), on the demo's base connection."""
    if manifest is None:
        text = resources.files("worker").joinpath("onboarding/samples/shop.yaml").read_text("utf-8")
        items = parse_manifest(text, name="shop.yaml")
    else:
        items = read_manifest(manifest)
    for item in items:
        data = item.payload.get("data") if item.is_event else item.payload
        source = data.get("source") if isinstance(data, dict) else None
        if isinstance(source, dict):
            source["base_connection_id"] = base_connection_id
    return items


def planned_steps(prepared: list[Prepared], items: list[ManifestItem]) -> int:
    """How many steps all requests take together (the length of the progress bar)."""
    modes = {item.request_id: item.payload.get("mapping_mode") for item in items}
    return sum(len(plan(auto_mapping=modes.get(p.request_id) == "auto")) for p in prepared)


def demo_settings(platform_url: str, state_dir: Path, concurrency: int) -> Settings:
    """Settings that point at nothing outside the process, whatever the environment says."""
    explicit = {
        "DATAFLOW_BROKER_URL": "memory://",
        "DATAFLOW_STATE_URL": f"sqlite:///{state_dir / 'demo-state.db'}",
        "DATAFLOW_PLATFORM_URL": platform_url,
        "DATAFLOW_IMS_URL": platform_url,
        "DATAFLOW_CLIENT_ID": _CLIENT[0],
        "DATAFLOW_CLIENT_SECRET": _CLIENT[1],
        "DATAFLOW_ORG_ID": _ORG,
        "DATAFLOW_SANDBOX": "prod",
        "DATAFLOW_CONCURRENCY": str(concurrency),
        "DATAFLOW_FOLLOW_RUNS": "false",
        "DATAFLOW_TOPOLOGY_PREFIX": f"demo-{uuid.uuid4().hex[:8]}",
        "DATAFLOW_HTTP_TIMEOUT_SECONDS": "10",
        "DATAFLOW_RETRY_MAX_ATTEMPTS": "12",
    }
    return load_settings(environ=explicit)


@contextmanager
def embedded_emulator() -> Iterator[Emulator]:
    """The emulator on a free loopback port in this process, restricted to the demo's client."""
    server = ServerThread(EmulatorConfig(clients=dict([_CLIENT])))
    server.start()
    emulator = Emulator(server.url, _CLIENT)
    emulator.org = _ORG
    try:
        yield emulator
    finally:
        emulator.close()
        server.stop()


class EventTap:
    """A queue bound to the events exchange of the in-process broker."""

    def __init__(self, target: BrokerTarget, events_exchange: str) -> None:
        self._connection = broker.connect(target)
        exchange = kombu.Exchange(events_exchange, type="topic", durable=True)
        queue = kombu.Queue(f"{events_exchange}.demo-tap", exchange=exchange, routing_key="#")
        self._queue = queue.bind(self._connection.channel())
        self._queue.declare()

    def take(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every event waiting now, as (type, data)."""
        while (message := self._queue.get(no_ack=True)) is not None:
            event = json.loads(message.body)
            yield str(event.get("type")), dict(event.get("data") or {})

    def close(self) -> None:
        """Delete the tap and disconnect."""
        self._queue.delete()
        self._connection.release()


def run_demo(
    options: DemoOptions | None = None,
    progress: Progress | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Onboard the sample end to end in this process and return every table's outcome.

    ``on_start`` learns how many requests and steps there are; ``progress`` sees every event.
    """
    from worker.app import Worker  # the worker's machinery loads only when the demo runs

    options = options or DemoOptions()
    started = time.monotonic()
    with ExitStack() as stack:
        state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dataflow-demo-")))
        emu = stack.enter_context(embedded_emulator())
        base_id = emu.create_base_connection(resolve_connector("postgresql").spec_id)
        items = load_requests(options.manifest, base_id)
        prepared, invalid = prepare(items, source=worker_source())
        if invalid:
            raise ConfigurationError(f"the demo manifest is invalid: {invalid[0].line()}")
        if on_start is not None:
            on_start(len(prepared), planned_steps(prepared, items))
        emu.set_faults(dict(options.faults))
        settings = demo_settings(emu.url, state_dir, options.concurrency)
        tap = EventTap(settings.broker(), f"{settings.topology_prefix}.events")
        worker = Worker(settings)
        worker.start()
        try:
            publish_requests(settings.broker(), settings.topology_prefix, prepared)
            terminal = _follow(tap, {p.request_id for p in prepared}, options, progress)
        finally:
            worker.stop(drain_seconds=2)
            tap.close()
        calls = [entry for entry in emu.requests() if "/__emulator/" not in entry["path"]]
    tables = [_outcome(item, terminal.get(item.request_id or "")) for item in items]
    return DemoResult(
        tables=tables,
        seconds=time.monotonic() - started,
        platform_calls=len(calls),
        faults_injected=sum(1 for call in calls if call["status"] in (429, 500, 502, 503, 504)),
    )


def _follow(
    tap: EventTap, wanted: set[str], options: DemoOptions, progress: Progress | None
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Collect events until every request has a terminal one, or the demo's time is up."""
    terminal: dict[str, tuple[str, dict[str, Any]]] = {}
    deadline = time.monotonic() + options.timeout_seconds
    while wanted - set(terminal) and time.monotonic() < deadline:
        for event_type, data in tap.take():
            if progress is not None:
                progress(event_type, data)
            if event_type in _TERMINAL:
                terminal.setdefault(str(data.get("request_id")), (event_type, data))
        time.sleep(0.02)
    return terminal


def _outcome(item: ManifestItem, terminal: tuple[str, dict[str, Any]] | None) -> TableOutcome:
    data = item.payload.get("data") if item.is_event else item.payload
    table = str((data or {}).get("source", {}).get("table", "?"))
    request_id = item.request_id or "?"
    if terminal is None:
        return TableOutcome(table, request_id, "timed out")
    event_type, event = terminal
    if event_type == "DataflowCreated":
        return TableOutcome(table, request_id, "created", event["flow_id"], event.get("attempts"))
    error = event.get("error") or {}
    return TableOutcome(
        table,
        request_id,
        f"failed: {error.get('kind', '?')}",
        attempts=event.get("attempts"),
        detail=f"{event.get('step') or '-'}: {error.get('message', '')}",
    )

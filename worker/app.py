"""A running worker assembled from Settings: one event loop runs the broker link and every request.

`Worker` runs in-process (tests, the demo: `start()`, `run_until_idle(timeout)`, `stop()`) or
under `dataflow-worker run`. Its event loop lives in a thread of its own ("dataflow-loop"); the
ledger's writer, the health server and the helper that opens broker connections have theirs.
Components that tests want to share (the Platform client, the ledger, the metrics registry) can
be passed in; everything else is built from the settings.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass

import structlog
from prometheus_client import CollectorRegistry

from worker.broker.depths import QueueDepths
from worker.broker.link import BrokerLink, Token
from worker.broker.reporter import Reporter
from worker.broker.topology import Topology
from worker.config import Settings
from worker.core import outcomes
from worker.core.delivery import REQUEUE, Delivery
from worker.core.retry import RetryPolicy
from worker.engine.actions import PlatformActions
from worker.engine.breaker import Breaker
from worker.engine.engine import Engine, EngineConfig
from worker.engine.telemetry import Telemetry
from worker.engine.tools import Tools
from worker.engine.upkeep import Upkeep, prune_finished
from worker.errors import DataflowError, LedgerError
from worker.ledger import Ledger, open_ledger
from worker.observability.health import HealthServer
from worker.observability.metrics import Metrics
from worker.platform import PlatformClient, open_platform_client

log = structlog.get_logger()

_INTERRUPT_GRACE_SECONDS = 3.0
_START_TIMEOUT_SECONDS = 60.0


def prefetch_for(concurrency: int) -> int:
    """Deliveries a worker takes: its concurrency and a quarter more, waiting their turn.

    A request that ends frees its slot at once for one already here, instead of waiting for the
    ack to reach the broker and the next delivery to come back (a few milliseconds per slot per
    request, paid again at every end). What waits holds no lease: a crash hands it back as is.
    """
    return concurrency + max(1, concurrency // 4)


@dataclass(frozen=True)
class Parts:
    """Ready-made components to use instead of building them from the settings."""

    platform: PlatformClient | None = None
    ledger: Ledger | None = None
    registry: CollectorRegistry | None = None
    host: str | None = None


def lease_seconds(settings: Settings) -> float:
    """How long a request's lease lasts; it is renewed every third of that while it runs."""
    return settings.lease_seconds


class Worker:
    """One worker process's machinery; `start` it, then `stop` it (or use it as a context)."""

    def __init__(self, settings: Settings, parts: Parts | None = None, *, health: bool = False):
        given = parts or Parts()
        self.settings = settings
        self.topology = Topology(settings.topology_prefix)
        self.metrics = Metrics(given.registry or CollectorRegistry())
        self._given_platform = given.platform
        self._owns_ledger = given.ledger is None
        self.ledger = given.ledger or open_ledger(
            settings.state_url, connections=settings.concurrency + 2
        )
        self.host = given.host or socket.gethostname()
        self.breaker = Breaker(on_change=self._circuit_changed)
        self.broker_target = settings.broker()
        self.depths = QueueDepths(self.broker_target, self.topology)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._closed = False
        self._start_error: BaseException | None = None
        self._link: BrokerLink | None = None
        self._engine: Engine | None = None
        self._upkeep: Upkeep | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(settings.concurrency)  # requests run at once
        self._stop_request: asyncio.Event | None = None
        self._drain_seconds = settings.drain_seconds
        self._health = (
            HealthServer(
                settings.metrics_addr,
                self.metrics.registry,
                liveness=self.liveness,
                readiness=self.readiness,
            )
            if health
            else None
        )

    # -- life cycle (called from any thread) ---------------------------------------------

    def start(self) -> None:
        """Start the event loop, connect to the broker and begin consuming."""
        if self._health is not None:
            self._health.start()
        self._thread = threading.Thread(target=self._serve, name="dataflow-loop", daemon=True)
        self._thread.start()
        self._started.wait(_START_TIMEOUT_SECONDS)
        if self._start_error is not None:
            raise self._start_error
        log.info(
            "worker_started",
            concurrency=self.settings.concurrency,
            platform_url=self.settings.platform_url,
            org_id=self.settings.org_id,
            sandbox=self.settings.sandbox,
            broker=_without_password(self.settings.broker_url),
            ledger=_without_password(self.settings.state_url),
            topology_prefix=self.settings.topology_prefix,
        )

    def stop(self, drain_seconds: float | None = None) -> None:
        """Stop taking work, drain in-flight requests, close everything this worker opened."""
        if self._closed:
            return
        self._closed = True
        if drain_seconds is not None:
            self._drain_seconds = drain_seconds
        log.info("worker_stopping", in_flight=self.in_flight, drain_seconds=self._drain_seconds)
        loop, stop = self._loop, self._stop_request
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(self._drain_seconds + 15)
        self.depths.close()
        if self._health is not None:
            self._health.stop()
        if self._owns_ledger:
            self.ledger.close()
        self.metrics.ready.set(0)
        log.info("worker_stopped")

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def in_flight(self) -> int:
        """Deliveries taken and not yet settled."""
        return len(self._tasks)

    def run_until_idle(self, timeout: float) -> bool:
        """Wait until the queues are empty and nothing is in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        since: float | None = None
        while time.monotonic() < deadline:
            if self.idle():
                since = since or time.monotonic()
                if time.monotonic() - since >= 0.5:
                    return True
            else:
                since = None
            time.sleep(0.05)
        return False

    def idle(self) -> bool:
        """True when nothing is queued, delayed in this process or in flight."""
        link = self._link
        if self.in_flight or self.breaker.is_open or link is None:
            return False
        if link.delayed_in_process:
            return False
        return self.depths.waiting() == 0 and not self.in_flight and link.connected

    def prune_finished(self) -> int:
        """Delete ledger records finished longer ago than the configured age, now."""
        return prune_finished(self.ledger, self.settings)

    # -- health --------------------------------------------------------------------------

    def liveness(self) -> dict[str, bool]:
        """The process and its event loop are alive."""
        thread = self._thread
        return {
            "running": not self._closed,
            "event_loop": thread is None or thread.is_alive(),
        }

    def readiness(self) -> dict[str, bool]:
        """The worker can take work: broker connected, ledger reachable, circuit closed."""
        link = self._link
        return {
            "broker": link is not None and link.connected,
            "ledger": self._ledger_reachable(),
            "circuit": not self.breaker.is_open,
        }

    def _ledger_reachable(self) -> bool:
        try:
            self.ledger.get("readiness-probe")
        except LedgerError:
            return False
        return True

    @property
    def ready(self) -> bool:
        """True when every readiness check passes."""
        return all(self.readiness().values())

    def _connection_changed(self, connected: bool) -> None:
        self.metrics.ready.set(1 if connected and not self.breaker.is_open else 0)

    def _circuit_changed(self, is_open: bool, reason: str) -> None:
        self.metrics.circuit_open.set(1 if is_open else 0)
        link = self._link
        self.metrics.ready.set(0 if is_open else int(link is not None and link.connected))
        if is_open:
            log.warning("circuit_opened", reason=reason)
        else:
            log.info("circuit_closed")
        loop = self._loop
        if loop is not None and self._upkeep is not None:
            loop.call_soon_threadsafe(self._upkeep.circuit_changed, is_open)

    # -- the event loop ------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except DataflowError as error:  # expected (the broker refused us): start() raises it
            self._start_error = self._start_error or error
        except BaseException as error:  # a bug killed the loop: say why, and let start() raise it
            self._start_error = self._start_error or error
            log.exception("event_loop_failed")
        finally:
            self._started.set()
            self._stopped.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_request = asyncio.Event()
        settings = self.settings
        platform = self._given_platform or open_platform_client(settings, metrics=self.metrics)
        telemetry = Telemetry(self.metrics)
        link = BrokerLink(
            self.broker_target,
            self.topology,
            prefetch=prefetch_for(settings.concurrency),
            on_delivery=self._on_delivery,
            on_connection=self._connection_changed,
            on_reconnect=self.metrics.broker_reconnects_total.inc,
        )
        tools = Tools(
            ledger=self.ledger,
            actions=PlatformActions(platform),
            reporter=Reporter(link, source=outcomes.event_source(self.host), metrics=self.metrics),
            breaker=self.breaker,
            telemetry=telemetry,
            jitter=random.random,
        )
        self._engine = Engine(config=self._engine_config(), tools=tools)
        self._link = link
        self._upkeep = Upkeep(settings, platform, self.ledger, self.breaker, link)
        try:
            await self._upkeep.start()  # before consuming: the first requests find a warm cache
            await link.start()
            self._started.set()
            await self._stop_request.wait()
            await self._drain(link)
        finally:
            await self._upkeep.stop()
            await link.close()
            if self._given_platform is None:
                await platform.aclose()

    def _engine_config(self) -> EngineConfig:
        settings = self.settings
        return EngineConfig(
            owner=f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            default_sandbox=settings.sandbox,
            lease_seconds=lease_seconds(settings),
            poison_deliveries=settings.poison_deliveries,
            follow_runs=settings.follow_runs,
            follow_first_wait_seconds=settings.follow_first_wait_seconds,
            max_message_bytes=settings.max_message_bytes,
            policy=RetryPolicy(
                max_attempts=settings.retry_max_attempts,
                max_seconds=settings.retry_max_seconds,
            ),
        )

    def _on_delivery(self, delivery: Delivery, token: Token) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._settle(delivery, token))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, delivery: Delivery, token: Token) -> None:
        assert self._engine is not None
        assert self._link is not None
        try:
            async with self._slots:
                stopping = self._stop_request is not None and self._stop_request.is_set()
                # a delivery that waited its turn while the worker began to drain goes back
                settle = REQUEUE if stopping else await self._engine.handle(delivery)
        except Exception:  # a bug must not lose the message: it comes back, counted as poison
            log.exception("delivery_handler_crashed", message_id=delivery.message_id)
            settle = REQUEUE
        await self._link.settle(token, delivery, settle)

    async def _drain(self, link: BrokerLink) -> None:
        """Stop consuming; let requests finish, then ask them to hand back; then give up."""
        assert self._engine is not None
        link.pause()
        drain = self._drain_seconds
        finish_by = max(drain - min(_INTERRUPT_GRACE_SECONDS, drain / 2), 0.0)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=finish_by)
        self._engine.interrupt()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=max(drain - finish_by, 0.1))
        for task in set(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)


def _without_password(url: str) -> str:
    """A URL as it may be logged: any password replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url

"""A running worker assembled from Settings: consumer, engine, ledger, client, health, breaker.

`Worker` can run in-process (tests, the demo: `start()`, `run_until_idle(timeout)`, `stop()`) or
under `dataflow-worker run`. Components that tests want to share (the Platform client, the ledger,
the metrics registry) can be passed in; everything else is built from the settings.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

import structlog
from prometheus_client import CollectorRegistry

from worker.broker import connection as broker
from worker.broker.consumer import Consumer
from worker.broker.delay import BrokerDelay, Delay, TimerDelay
from worker.broker.publisher import Publisher
from worker.broker.reporter import Reporter
from worker.broker.topology import Topology
from worker.config import Settings
from worker.core import outcomes
from worker.core.retry import RetryPolicy
from worker.engine.actions import PlatformActions
from worker.engine.breaker import Breaker
from worker.engine.engine import Engine, EngineConfig
from worker.errors import BrokerCertificateError, DataflowError, LedgerError
from worker.ledger import Ledger, open_ledger
from worker.observability.health import HealthServer
from worker.observability.metrics import Metrics
from worker.platform.blocking import BlockingPlatformClient, open_blocking_client

log = structlog.get_logger()

_PROBE_FIRST_SECONDS = 1.0
_PROBE_MAX_SECONDS = 30.0
_PRUNE_EVERY_SECONDS = 3600.0


@dataclass(frozen=True)
class Parts:
    """Ready-made components to use instead of building them from the settings."""

    platform: BlockingPlatformClient | None = None
    ledger: Ledger | None = None
    registry: CollectorRegistry | None = None
    host: str | None = None


class Worker:
    """One worker process's machinery; `start` it, then `stop` it (or use it as a context)."""

    def __init__(self, settings: Settings, parts: Parts | None = None, *, health: bool = False):
        given = parts or Parts()
        self.settings = settings
        self.topology = Topology(settings.topology_prefix)
        self.metrics = Metrics(given.registry or CollectorRegistry())
        self._owns_platform = given.platform is None
        self._owns_ledger = given.ledger is None
        self.platform = given.platform or open_blocking_client(settings, metrics=self.metrics)
        self.ledger = given.ledger or open_ledger(settings.state_url)
        host = given.host or socket.gethostname()
        source = outcomes.event_source(host)
        broker_target = settings.broker()
        self.publisher = Publisher(broker_target, self.topology)
        self.delay: Delay = (
            TimerDelay(self.publisher)
            if broker.uses_memory(settings.broker_url)
            else BrokerDelay(self.publisher)
        )
        self.breaker = Breaker(on_change=self._circuit_changed)
        self._probe_wakeup = threading.Event()
        self._closed = threading.Event()
        stopping = threading.Event()  # one stop signal: the consumer sets it, steps check it
        self.engine = Engine(
            config=EngineConfig(
                owner=f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
                source=source,
                default_sandbox=settings.sandbox,
                # A step (a look-up and a create) starts with at least half the lease left, so
                # half must outlast two HTTP timeouts: no two workers ever run the same step.
                # A crashed worker's requests resume once its lease expires.
                lease_seconds=2 * (2 * settings.http_timeout_seconds + 5.0),
                poison_deliveries=settings.poison_deliveries,
                follow_runs=settings.follow_runs,
                follow_first_wait_seconds=settings.follow_first_wait_seconds,
                max_message_bytes=settings.max_message_bytes,
                policy=RetryPolicy(
                    max_attempts=settings.retry_max_attempts,
                    max_seconds=settings.retry_max_seconds,
                ),
            ),
            ledger=self.ledger,
            actions=PlatformActions(self.platform),
            reporter=Reporter(
                self.publisher, source=outcomes.event_source(host), metrics=self.metrics
            ),
            delay=self.delay,
            breaker=self.breaker,
            metrics=self.metrics,
            stopping=stopping,
        )
        self.consumer = Consumer(
            broker_target,
            self.topology,
            concurrency=settings.concurrency,
            handler=self.engine.handle,
            on_connection=self._connection_changed,
            on_reconnect=self.metrics.broker_reconnects_total.inc,
            stopping=stopping,
            on_tick=self.publisher.heartbeat,
        )
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
        self._prober: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Declare the topology, start the health server and the consumer."""
        if self._health is not None:
            self._health.start()
        try:
            self.publisher.start()
        except BrokerCertificateError as error:
            # Configuration, yet a rotated certificate may fix it: stay unready and keep trying
            # (the consumer reconnects with backoff), rather than exit and take nothing either.
            log.error("broker_certificate_refused", error=str(error))
        self.consumer.start()
        self._prober = threading.Thread(target=self._probe_loop, name="dataflow-probe", daemon=True)
        self._prober.start()
        threading.Thread(target=self._prune_loop, name="dataflow-prune", daemon=True).start()
        log.info("worker_started", concurrency=self.settings.concurrency)

    def stop(self, drain_seconds: float | None = None) -> None:
        """Stop taking work, drain in-flight requests, close everything this worker opened."""
        drain = self.settings.drain_seconds if drain_seconds is None else drain_seconds
        log.info("worker_stopping", in_flight=self.consumer.in_flight, drain_seconds=drain)
        self._closed.set()
        self._probe_wakeup.set()
        self.consumer.stop(drain)
        self.delay.close()
        self.publisher.close()
        if self._health is not None:
            self._health.stop()
        if self._owns_platform:
            self.platform.close()
        if self._owns_ledger:
            self.ledger.close()
        self.metrics.ready.set(0)
        log.info("worker_stopped")

    def run_until_idle(self, timeout: float) -> bool:
        """Wait until the queues are empty and nothing is in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.05)
        return False

    def idle(self) -> bool:
        """True when nothing is queued, delayed in this process or in flight."""
        return self.consumer.idle() and self.delay.pending() == 0 and not self.breaker.is_open

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- health --------------------------------------------------------------------------

    def liveness(self) -> dict[str, bool]:
        """The process and its broker thread are alive."""
        return {"running": not self._closed.is_set(), "consumer_loop": self.consumer.alive}

    def readiness(self) -> dict[str, bool]:
        """The worker can take work: broker connected, ledger reachable, circuit closed."""
        return {
            "broker": self.consumer.connected,
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

    # -- circuit breaker -----------------------------------------------------------------

    def _circuit_changed(self, is_open: bool, reason: str) -> None:
        self.metrics.circuit_open.set(1 if is_open else 0)
        self.metrics.ready.set(0 if is_open else int(self.consumer.connected))
        if is_open:
            log.warning("circuit_opened", reason=reason)
            self.consumer.pause()
            self._probe_wakeup.set()
        else:
            log.info("circuit_closed")
            self.consumer.resume()

    def _probe_loop(self) -> None:
        while not self._closed.is_set():
            self._probe_wakeup.wait()
            self._probe_wakeup.clear()
            wait = _PROBE_FIRST_SECONDS
            while self.breaker.is_open and not self._closed.wait(wait):
                if self._probe():
                    self.breaker.close()
                wait = min(wait * 2, _PROBE_MAX_SECONDS)

    def _prune_loop(self) -> None:
        """Hourly, delete ledger records finished more than DATAFLOW_PRUNE_AFTER_DAYS ago."""
        while not self._closed.is_set():
            self.prune_finished()
            self._closed.wait(_PRUNE_EVERY_SECONDS)

    def prune_finished(self) -> int:
        """Delete finished records older than the configured age; a failure is only logged."""
        older_than = time.time() - self.settings.prune_after_days * 86400
        try:
            removed = self.ledger.prune(older_than)
        except LedgerError as error:
            log.warning("ledger_prune_failed", error=str(error))
            return 0
        if removed:
            log.info("ledger_pruned", removed=removed)
        return removed

    def _probe(self) -> bool:
        """A token fetch and one uncached Platform read: does the Platform answer us again?"""
        try:
            self.platform.probe(self.settings.sandbox)
        except DataflowError as error:
            log.info("probe_failed", error=str(error))
            return False
        return True

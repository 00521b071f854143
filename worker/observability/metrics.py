"""Prometheus metrics of the worker (contract section 6), registered on an injected registry.

Every label value is drawn from a closed set below, so the number of series is known in advance;
every known label combination is exported at 0 from the start, so dashboards and alerts always
find their series. Callers that hold a value from outside (a message type, an HTTP status) go
through the helpers (`received_type`, `status_class`), which map anything unknown to a bounded
value instead of creating a new series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import product

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from messages import STEPS
from messages.envelope import COMMAND_TYPES, PUBLISHED_TYPES
from worker import __version__

PREFIX = "dataflow_"

EVENT_TYPES: tuple[str, ...] = PUBLISHED_TYPES
RECEIVED_TYPES: tuple[str, ...] = (*COMMAND_TYPES, *PUBLISHED_TYPES, "unknown")
REQUEST_OUTCOMES = ("created", "updated", "deleted", "failed", "duplicate", "conflict")
STEP_OUTCOMES = ("completed", "retried", "failed")
APIS = ("ims", "flowservice", "schemaregistry", "catalog", "dataprep")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "timeout", "error")
DEAD_LETTER_REASONS = ("invalid_message", "rejected", "retries_exhausted", "conflict", "poison")
PUBLISH_RESULTS = ("confirmed", "unconfirmed")

# Platform calls take ~5 ms to 60 s (the client's timeout); a step, with retries, up to
# minutes and at most the broker's consumer timeout (30 min); a request up to an hour or two.
PLATFORM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
REQUEST_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
MESSAGE_AGE_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 21600)


def received_type(event_type: str | None) -> str:
    """The `type` label for a received message: a known type, else ``unknown``."""
    return event_type if event_type in RECEIVED_TYPES else "unknown"


def status_class(status: int | None, *, timeout: bool = False) -> str:
    """The `status_class` label of a Platform call: its HTTP class, ``timeout`` or ``error``."""
    if timeout:
        return "timeout"
    if status is None or not 200 <= status <= 599:
        return "error"
    return f"{status // 100}xx"


def method_label(method: str) -> str:
    """The `method` label: the upper-case HTTP method, or ``OTHER`` for an unusual one."""
    upper = method.upper()
    return upper if upper in METHODS else "OTHER"


def _preset(metric: Counter | Histogram, *label_sets: Iterable[str]) -> None:
    """Create every child of a labelled metric so each series is exported at 0 from the start."""
    for values in product(*label_sets):
        metric.labels(*values)


class Metrics:
    """Every metric of the worker, one attribute per metric, named without the `dataflow_` prefix.

    Build one per process with the registry that `/metrics` serves; tests build their own.
    """

    def __init__(self, registry: CollectorRegistry, *, version: str = __version__) -> None:
        self.registry = registry
        p = PREFIX
        self.messages_received_total = Counter(
            p + "messages_received_total",
            "Messages taken from the requests queue, by CloudEvents type (or unknown).",
            ["type"],
            registry=registry,
        )
        self.requests_finished_total = Counter(
            p + "requests_finished_total",
            "Requests that reached a terminal outcome.",
            ["outcome"],
            registry=registry,
        )
        self.step_attempts_total = Counter(
            p + "step_attempts_total",
            "Step attempts by step and outcome (completed, retried, failed).",
            ["step", "outcome"],
            registry=registry,
        )
        self.step_duration_seconds = Histogram(
            p + "step_duration_seconds",
            "Duration of a completed step, as its StepCompleted event reports it.",
            ["step"],
            buckets=STEP_BUCKETS,
            registry=registry,
        )
        self.request_duration_seconds = Histogram(
            p + "request_duration_seconds",
            "Time from a request's receipt to its terminal event.",
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.platform_requests_total = Counter(
            p + "platform_requests_total",
            "HTTP calls to the Platform and IMS by API, method and status class.",
            ["api", "method", "status_class"],
            registry=registry,
        )
        self.platform_request_duration_seconds = Histogram(
            p + "platform_request_duration_seconds",
            "Duration of HTTP calls to the Platform and IMS, by API.",
            ["api"],
            buckets=PLATFORM_BUCKETS,
            registry=registry,
        )
        self.platform_throttled_total = Counter(
            p + "platform_throttled_total",
            "Platform answers 429 Too Many Requests (also counted as 4xx), by API.",
            ["api"],
            registry=registry,
        )
        # The adaptive limit of Platform calls (worker.platform.gate): unlabelled, one line each.
        limit, flying, paused = (
            ("platform_concurrency_limit", "Platform calls this worker lets be in flight now."),
            ("platform_calls_in_flight", "Platform calls in flight now (IMS calls not counted)."),
            ("platform_paused_seconds_total", "Seconds a 429's Retry-After paused every call."),
        )
        self.platform_concurrency_limit = Gauge(p + limit[0], limit[1], registry=registry)
        self.platform_calls_in_flight = Gauge(p + flying[0], flying[1], registry=registry)
        self.platform_paused_seconds_total = Counter(p + paused[0], paused[1], registry=registry)
        self.requests_in_flight = Gauge(
            p + "requests_in_flight",
            "Requests this worker is executing now.",
            registry=registry,
        )
        self.dead_lettered_total = Counter(
            p + "dead_lettered_total",
            "Messages sent to the parking lot, by error kind.",
            ["reason"],
            registry=registry,
        )
        self.events_published_total = Counter(
            p + "events_published_total",
            "Events published and confirmed by the broker, by type.",
            ["type"],
            registry=registry,
        )
        self.events_unconfirmed_total = Counter(
            p + "events_unconfirmed_total",
            "Event publishes the broker did not confirm (nacked, returned or timed out), by type.",
            ["type"],
            registry=registry,
        )
        self.retries_scheduled_total = Counter(
            p + "retries_scheduled_total",
            "Delayed retries scheduled, by the step that will be retried.",
            ["step"],
            registry=registry,
        )
        self.message_age_seconds = Histogram(
            p + "message_age_seconds",
            "Age of a received message (now minus its CloudEvents time) when the worker takes it.",
            buckets=MESSAGE_AGE_BUCKETS,
            registry=registry,
        )
        self.broker_reconnects_total = Counter(
            p + "broker_reconnects_total",
            "Times the worker re-established its broker connection.",
            registry=registry,
        )
        self.ready = Gauge(
            p + "ready",
            "1 when the worker takes work (broker connected, ledger reachable, circuit closed).",
            registry=registry,
        )
        self.circuit_open = Gauge(
            p + "circuit_open",
            "1 while the worker stopped taking work because the Platform refuses or is down.",
            registry=registry,
        )
        self.build_info = Gauge(
            p + "build_info",
            "Always 1; the version label says which build runs.",
            ["version"],
            registry=registry,
        )
        self.build_info.labels(version=version).set(1)
        self._preset_all()

    def _preset_all(self) -> None:
        """Export every known label combination at 0."""
        _preset(self.messages_received_total, RECEIVED_TYPES)
        _preset(self.requests_finished_total, REQUEST_OUTCOMES)
        _preset(self.step_attempts_total, STEPS, STEP_OUTCOMES)
        _preset(self.step_duration_seconds, STEPS)
        _preset(self.platform_requests_total, APIS, METHODS, STATUS_CLASSES)
        _preset(self.platform_request_duration_seconds, APIS)
        _preset(self.platform_throttled_total, APIS)
        _preset(self.dead_lettered_total, DEAD_LETTER_REASONS)
        _preset(self.events_published_total, EVENT_TYPES)
        _preset(self.events_unconfirmed_total, EVENT_TYPES)
        _preset(self.retries_scheduled_total, STEPS)

    def observe_platform_call(
        self,
        api: str,
        method: str,
        seconds: float,
        *,
        status: int | None = None,
        timeout: bool = False,
    ) -> None:
        """Count one Platform call and its duration (the client calls this once per HTTP call)."""
        self.platform_requests_total.labels(
            api=api, method=method_label(method), status_class=status_class(status, timeout=timeout)
        ).inc()
        self.platform_request_duration_seconds.labels(api=api).observe(seconds)
        if status == 429:
            self.platform_throttled_total.labels(api=api).inc()

    def observe_limit(self, limit: int, in_flight: int) -> None:
        """Set the adaptive limit and the calls in flight (the gate calls this on each change)."""
        self.platform_concurrency_limit.set(limit)
        self.platform_calls_in_flight.set(in_flight)

    def count_pause(self, seconds: float) -> None:
        """Add seconds of a worker-wide pause after a 429's Retry-After."""
        self.platform_paused_seconds_total.inc(seconds)

    def count_received(self, event_type: str | None) -> None:
        """Count one received message under its type, or ``unknown``."""
        self.messages_received_total.labels(type=received_type(event_type)).inc()

    def watch(self, *, ready: Callable[[], bool], circuit_open: Callable[[], bool]) -> None:
        """Compute the `ready` and `circuit_open` gauges at scrape time from the worker's state."""
        self.ready.set_function(lambda: float(ready()))
        self.circuit_open.set_function(lambda: float(circuit_open()))

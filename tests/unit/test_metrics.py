"""The worker's metrics: names, label sets exported at 0, bounded helpers, buckets that fit."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from messages import STEPS
from worker import __version__
from worker.observability.metrics import (
    APIS,
    EVENT_TYPES,
    METHODS,
    PLATFORM_BUCKETS,
    RECEIVED_TYPES,
    REQUEST_BUCKETS,
    STATUS_CLASSES,
    STEP_BUCKETS,
    Metrics,
    method_label,
    received_type,
    status_class,
)

CONTRACT_METRICS = {
    "dataflow_messages_received_total": ("counter", {"type"}),
    "dataflow_requests_finished_total": ("counter", {"outcome"}),
    "dataflow_step_attempts_total": ("counter", {"step", "outcome"}),
    "dataflow_step_duration_seconds": ("histogram", {"step"}),
    "dataflow_request_duration_seconds": ("histogram", set()),
    "dataflow_platform_requests_total": ("counter", {"api", "method", "status_class"}),
    "dataflow_platform_request_duration_seconds": ("histogram", {"api"}),
    "dataflow_requests_in_flight": ("gauge", set()),
    "dataflow_dead_lettered_total": ("counter", {"reason"}),
    "dataflow_events_published_total": ("counter", {"type"}),
    "dataflow_build_info": ("gauge", {"version"}),
}


def _samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the registry's exposition, keyed by name and labels."""
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """One sample's value, or None when the series does not exist."""
    return registry.get_sample_value(name, labels)


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh registry, never the global default one."""
    return CollectorRegistry()


@pytest.mark.parametrize(("name", "kind_and_labels"), sorted(CONTRACT_METRICS.items()))
def test_every_contract_metric_is_exported_with_its_type_and_labels(
    registry: CollectorRegistry, name: str, kind_and_labels: tuple[str, set[str]]
) -> None:
    Metrics(registry)
    kind, labels = kind_and_labels
    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
    }
    base = name.removesuffix("_total") if kind == "counter" else name
    family = families[base]
    assert family.type == kind
    sample_labels = {key for s in family.samples for key in s.labels} - {"le"}
    assert sample_labels == labels


def test_each_attribute_is_named_after_its_metric_without_the_prefix(
    registry: CollectorRegistry,
) -> None:
    metrics = Metrics(registry)
    for name in CONTRACT_METRICS:
        attribute = getattr(metrics, name.removeprefix("dataflow_"))
        assert attribute._name in (name, name.removesuffix("_total"))


def test_known_label_sets_are_exported_at_zero_from_the_start(
    registry: CollectorRegistry,
) -> None:
    Metrics(registry)
    for type_ in RECEIVED_TYPES:
        assert _value(registry, "dataflow_messages_received_total", type=type_) == 0
    for type_ in EVENT_TYPES:
        assert _value(registry, "dataflow_events_published_total", type=type_) == 0
    for step in STEPS:
        for outcome in ("completed", "retried", "failed"):
            assert _value(registry, "dataflow_step_attempts_total", step=step, outcome=outcome) == 0
        assert _value(registry, "dataflow_step_duration_seconds_count", step=step) == 0
        assert _value(registry, "dataflow_retries_scheduled_total", step=step) == 0
    for api in APIS:
        assert _value(registry, "dataflow_platform_throttled_total", api=api) == 0
        for method in METHODS:
            for cls in STATUS_CLASSES:
                sample = _value(
                    registry,
                    "dataflow_platform_requests_total",
                    api=api,
                    method=method,
                    status_class=cls,
                )
                assert sample == 0
    for reason in ("invalid_message", "rejected", "retries_exhausted", "conflict", "poison"):
        assert _value(registry, "dataflow_dead_lettered_total", reason=reason) == 0
    for outcome in ("created", "updated", "deleted", "failed", "duplicate", "conflict"):
        assert _value(registry, "dataflow_requests_finished_total", outcome=outcome) == 0
    assert _value(registry, "dataflow_request_duration_seconds_count") == 0
    assert _value(registry, "dataflow_requests_in_flight") == 0


def test_build_info_carries_the_version(registry: CollectorRegistry) -> None:
    Metrics(registry)
    assert _value(registry, "dataflow_build_info", version=__version__) == 1


def test_two_instances_on_two_registries_do_not_collide() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    Metrics(first).requests_in_flight.inc()
    Metrics(second)
    assert _value(first, "dataflow_requests_in_flight") == 1
    assert _value(second, "dataflow_requests_in_flight") == 0


def test_the_series_count_is_bounded_and_known_in_advance(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry)
    before = len(_samples(registry))
    metrics.count_received("SomethingElse")
    metrics.observe_platform_call("catalog", "get", 0.2, status=418)
    metrics.observe_platform_call("catalog", "POST", 61.0, timeout=True)
    assert len(_samples(registry)) == before


@pytest.mark.parametrize(
    ("status", "timeout", "expected"),
    [
        (200, False, "2xx"),
        (201, False, "2xx"),
        (304, False, "3xx"),
        (404, False, "4xx"),
        (429, False, "4xx"),
        (503, False, "5xx"),
        (None, False, "error"),
        (None, True, "timeout"),
        (200, True, "timeout"),
        (101, False, "error"),
        (700, False, "error"),
    ],
)
def test_a_status_maps_to_a_bounded_status_class(
    status: int | None, timeout: bool, expected: str
) -> None:
    assert status_class(status, timeout=timeout) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("DataflowRequested", "DataflowRequested"),
        ("DataflowCreated", "DataflowCreated"),
        ("dataflowrequested", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_a_received_type_is_known_or_unknown(given: str | None, expected: str) -> None:
    assert received_type(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [("get", "GET"), ("POST", "POST"), ("delete", "DELETE"), ("HEAD", "OTHER")],
)
def test_a_method_label_is_upper_case_and_bounded(given: str, expected: str) -> None:
    assert method_label(given) == expected


def test_a_platform_call_counts_its_class_duration_and_throttling(
    registry: CollectorRegistry,
) -> None:
    metrics = Metrics(registry)
    metrics.observe_platform_call("flowservice", "post", 0.02, status=429)
    metrics.observe_platform_call("flowservice", "POST", 0.03, status=201)
    assert (
        _value(
            registry,
            "dataflow_platform_requests_total",
            api="flowservice",
            method="POST",
            status_class="4xx",
        )
        == 1
    )
    assert _value(registry, "dataflow_platform_throttled_total", api="flowservice") == 1
    assert (
        _value(
            registry,
            "dataflow_platform_request_duration_seconds_bucket",
            api="flowservice",
            le="0.05",
        )
        == 2
    )


def test_ready_and_circuit_gauges_follow_the_watched_state(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry)
    state = {"ready": True, "open": False}
    metrics.watch(ready=lambda: state["ready"], circuit_open=lambda: state["open"])
    assert _value(registry, "dataflow_ready") == 1
    state.update(ready=False, open=True)
    assert _value(registry, "dataflow_ready") == 0
    assert _value(registry, "dataflow_circuit_open") == 1


@pytest.mark.parametrize(
    ("buckets", "smallest", "largest"),
    [
        (PLATFORM_BUCKETS, 0.005, 60),  # Platform calls: ~5 ms up to the 60 s client timeout
        (STEP_BUCKETS, 0.05, 1800),  # steps: up to the broker's 30 min consumer timeout
        (REQUEST_BUCKETS, 0.5, 3600),  # requests: up to an hour
    ],
)
def test_histogram_buckets_cover_the_measured_durations(
    buckets: tuple[float, ...], smallest: float, largest: float
) -> None:
    assert list(buckets) == sorted(buckets)
    assert buckets[0] <= smallest
    assert buckets[-1] >= largest

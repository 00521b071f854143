"""A real worker's metrics count exactly what happened: a success, a retry and a failure.

Every expected value comes from an independent witness: the events the worker published (read
from RabbitMQ) and the emulator's own log of the HTTP requests it answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from emulator.testing import POSTGRES_SPEC_ID, Emulator, running_emulator
from messages import STEPS
from tests.integration.harness import EventCollector, collecting_events, wait_until
from tests.integration.samples import sample_request
from tests.integration.worker_support import (
    publish_raw,
    publish_request,
    request_publisher,
    sqlite_url,
    topology_prefix,
    worker_settings,
)
from tests.services import RABBITMQ_URL, require_service
from worker.app import Parts, Worker

pytestmark = pytest.mark.integration

THROTTLED_PATHS = "^/data/foundation/flowservice/sourceConnections"
_API_PREFIXES = {
    "/ims/": "ims",
    "/data/foundation/flowservice/": "flowservice",
    "/data/foundation/schemaregistry/": "schemaregistry",
    "/data/foundation/catalog/": "catalog",
    "/data/foundation/conversion/": "dataprep",
}


@dataclass
class Scenario:
    """What happened, as the witnesses saw it, and the registry the worker counted in."""

    registry: CollectorRegistry
    events: list[dict[str, Any]]
    platform_calls: list[dict[str, Any]]

    def value(self, name: str, **labels: str) -> float:
        """A sample of the worker's registry (0 when absent, so a missing series shows)."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        """The published events of one type."""
        return [event for event in self.events if event["type"] == event_type]


def api_of(path: str) -> str:
    """The `api` label of an emulator path."""
    return next(api for prefix, api in _API_PREFIXES.items() if path.startswith(prefix))


def status_class_of(status: int | None) -> str:
    """The `status_class` label of a status the emulator logged (None: dropped connection)."""
    return "error" if status is None else f"{status // 100}xx"


def _retries(registry: CollectorRegistry) -> float:
    """Retries the worker scheduled for the throttled step so far."""
    value = registry.get_sample_value(
        "dataflow_retries_scheduled_total", {"step": "source_connection"}
    )
    return value or 0.0


@contextmanager
def worker_scenario(
    rabbitmq_url: str, tmp_path: Path, registry: CollectorRegistry, metrics_addr: str | None = None
) -> Iterator[Scenario]:
    """A real worker on RabbitMQ and the emulator processes a request that succeeds, one that
    is throttled once and retried, one the Platform rejects and an unreadable message; yields
    while it still runs (serving its own ``/metrics`` on ``metrics_addr`` when given)."""
    with running_emulator() as emulator, topology_prefix(rabbitmq_url) as prefix:
        base = emulator.create_base_connection(POSTGRES_SPEC_ID)
        seen_before = len(emulator.requests())
        settings = worker_settings(
            rabbitmq_url,
            emulator,
            sqlite_url(tmp_path),
            prefix,
            metrics_addr=metrics_addr or "127.0.0.1:0",
        )
        worker = Worker(settings, Parts(registry=registry), health=metrics_addr is not None)
        with (
            collecting_events(rabbitmq_url, prefix) as events,
            request_publisher(rabbitmq_url, prefix) as publisher,
        ):
            worker.start()
            try:
                publish_request(publisher, sample_request("obs-ok", base))
                events.wait_for_terminal(["obs-ok"], timeout=60)
                _throttle_once(emulator, registry)
                publish_request(publisher, sample_request("obs-retry", base))
                wait_until(lambda: _retries(registry) >= 1, timeout=60, what="a scheduled retry")
                emulator.set_faults({})
                events.wait_for_terminal(["obs-retry"], timeout=60)
                publish_request(publisher, sample_request("obs-fail", "no-such-base-connection"))
                events.wait_for_terminal(["obs-fail"], timeout=60)
                publish_raw(publisher, b"{not json", message_id="obs-invalid")
                wait_until(lambda: _unreadable_failed(events), timeout=60, what="invalid's event")
                assert worker.run_until_idle(30)
                events.drain()
                calls = emulator.requests()[seen_before:]
                yield Scenario(registry, list(events.events), calls)
            finally:
                worker.stop(drain_seconds=5)


def _unreadable_failed(events: EventCollector) -> bool:
    """True once the DataflowFailed of the unreadable message (no request_id) has arrived."""
    events.drain(0)
    return any(
        e["type"] == "DataflowFailed" and e["data"]["request_id"] is None for e in events.events
    )


def _throttle_once(emulator: Emulator, registry: CollectorRegistry) -> None:
    """Answer 429 to source connection calls until the test lifts it after the first retry."""
    assert _retries(registry) == 0
    emulator.set_faults({"throttle": {"rate": 1.0, "retry_after_s": 1}, "paths": THROTTLED_PATHS})


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The scenario, run once for the module's tests."""
    require_service("rabbitmq")
    with worker_scenario(
        RABBITMQ_URL, tmp_path_factory.mktemp("worker"), CollectorRegistry()
    ) as happened:
        return happened


def test_requests_are_counted_by_outcome(scenario: Scenario) -> None:
    assert scenario.value("dataflow_requests_finished_total", outcome="created") == 2
    assert scenario.value("dataflow_requests_finished_total", outcome="failed") == 2
    assert scenario.value("dataflow_requests_finished_total", outcome="duplicate") == 0
    assert scenario.value("dataflow_requests_finished_total", outcome="conflict") == 0
    # the unreadable message never became a request: it has no request duration
    assert scenario.value("dataflow_request_duration_seconds_count") == 3
    assert scenario.value("dataflow_requests_in_flight") == 0


def test_every_delivery_is_counted_as_received_the_retry_included(scenario: Scenario) -> None:
    deliveries = 3 + scenario.value("dataflow_retries_scheduled_total", step="source_connection")
    assert (
        scenario.value("dataflow_messages_received_total", type="DataflowRequested") == deliveries
    )
    assert scenario.value("dataflow_messages_received_total", type="unknown") == 1
    assert scenario.value("dataflow_message_age_seconds_count") == deliveries


@pytest.mark.parametrize("step", STEPS)
def test_completed_steps_and_their_durations_match_the_step_completed_events(
    scenario: Scenario, step: str
) -> None:
    mine = [e["data"] for e in scenario.of_type("StepCompleted") if e["data"]["step"] == step]
    expected = len(mine)
    assert scenario.value("dataflow_step_attempts_total", step=step, outcome="completed") == (
        expected
    )
    assert scenario.value("dataflow_step_duration_seconds_count", step=step) == expected
    assert scenario.value("dataflow_step_duration_seconds_sum", step=step) == pytest.approx(
        sum(data["duration_seconds"] for data in mine), abs=1e-3 * max(expected, 1)
    )


def test_the_throttled_step_counts_one_retry_per_429_and_nothing_else_retried(
    scenario: Scenario,
) -> None:
    # Each 429 the emulator answered made the step fail once and be retried; the test lifts
    # the fault after the first retry, but a slow machine may let a second one through.
    throttled = sum(1 for call in scenario.platform_calls if call["status"] == 429)
    assert throttled >= 1
    for step in STEPS:
        expected = throttled if step == "source_connection" else 0
        assert scenario.value("dataflow_step_attempts_total", step=step, outcome="retried") == (
            expected
        )
        assert scenario.value("dataflow_retries_scheduled_total", step=step) == expected


def test_the_rejected_request_counts_one_failed_step_one_dead_letter_and_one_event(
    scenario: Scenario,
) -> None:
    (failed,) = [
        e for e in scenario.of_type("DataflowFailed") if e["data"]["request_id"] == "obs-fail"
    ]
    kind, step = failed["data"]["error"]["kind"], failed["data"]["step"]
    assert kind == "rejected"
    assert scenario.value("dataflow_step_attempts_total", step=step, outcome="failed") == 1
    assert scenario.value("dataflow_dead_lettered_total", reason=kind) == 1
    total = sum(
        scenario.value("dataflow_dead_lettered_total", reason=reason)
        for reason in ("invalid_message", "rejected", "retries_exhausted", "conflict", "poison")
    )
    assert total == 2  # and the unreadable message's, below


def test_the_unreadable_message_counts_as_unknown_and_one_invalid_message_dead_letter(
    scenario: Scenario,
) -> None:
    (failed,) = [e for e in scenario.of_type("DataflowFailed") if e["data"]["request_id"] is None]
    assert failed["data"]["error"]["kind"] == "invalid_message"
    assert scenario.value("dataflow_dead_lettered_total", reason="invalid_message") == 1
    assert scenario.value("dataflow_messages_received_total", type="unknown") == 1


def test_published_events_are_counted_by_type(scenario: Scenario) -> None:
    by_type = Counter(event["type"] for event in scenario.events)
    for event_type in ("StepCompleted", "DataflowCreated", "DataflowFailed"):
        assert (
            scenario.value("dataflow_events_published_total", type=event_type)
            == (by_type[event_type])
        )
    assert (by_type["DataflowCreated"], by_type["DataflowFailed"]) == (2, 2)


def test_platform_calls_match_the_emulator_log_by_api_method_and_status_class(
    scenario: Scenario,
) -> None:
    logged = Counter(
        (api_of(call["path"]), call["method"], status_class_of(call["status"]))
        for call in scenario.platform_calls
    )
    assert logged, "the emulator saw no Platform call"
    for (api, method, cls), count in logged.items():
        assert (
            scenario.value(
                "dataflow_platform_requests_total", api=api, method=method, status_class=cls
            )
            == count
        ), (api, method, cls)
    per_api = Counter(api for api, _, _ in logged.elements())
    for api, count in per_api.items():
        assert scenario.value("dataflow_platform_request_duration_seconds_count", api=api) == count


def test_each_429_is_counted_as_throttled(scenario: Scenario) -> None:
    throttled = Counter(
        api_of(call["path"]) for call in scenario.platform_calls if call["status"] == 429
    )
    assert throttled["flowservice"] >= 1
    assert (
        scenario.value("dataflow_platform_throttled_total", api="flowservice")
        == (throttled["flowservice"])
    )

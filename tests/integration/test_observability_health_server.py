"""The health server over real HTTP on loopback: metrics, probes, and a taken address."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from worker.errors import ConfigurationError
from worker.observability.health import HealthServer
from worker.observability.metrics import Metrics

pytestmark = pytest.mark.integration


@pytest.fixture
def state() -> dict[str, bool]:
    """The checks the probes report, changed by tests."""
    return {"consumer": True, "broker": True, "ledger": True, "circuit": True}


@pytest.fixture
def server(state: dict[str, bool]) -> Iterator[HealthServer]:
    """A health server on a free loopback port over a registry with one in-flight request."""
    registry = CollectorRegistry()
    Metrics(registry).requests_in_flight.set(3)
    with HealthServer(
        "127.0.0.1:0",
        registry,
        liveness=lambda: {"consumer": state["consumer"]},
        readiness=lambda: {k: state[k] for k in ("broker", "ledger", "circuit")},
    ) as running:
        yield running


def test_metrics_are_served_from_the_injected_registry(server: HealthServer) -> None:
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "dataflow_requests_in_flight 3.0" in response.text
    assert 'dataflow_messages_received_total{type="unknown"} 0.0' in response.text


def test_prometheus_can_ask_for_openmetrics(server: HealthServer) -> None:
    response = httpx.get(
        f"{server.url}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


def test_probes_answer_200_while_everything_is_fine(server: HealthServer) -> None:
    for path in ("/healthz", "/readyz"):
        response = httpx.get(server.url + path)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"


def test_readyz_answers_503_naming_the_failed_check(
    server: HealthServer, state: dict[str, bool]
) -> None:
    state["circuit"] = False
    response = httpx.get(f"{server.url}/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["circuit"]
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_healthz_answers_503_when_the_consumer_loop_is_dead(
    server: HealthServer, state: dict[str, bool]
) -> None:
    state["consumer"] = False
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["consumer"]


def test_an_unknown_path_is_404(server: HealthServer) -> None:
    assert httpx.get(f"{server.url}/nothing").status_code == 404


def test_a_taken_address_is_one_readable_configuration_error(server: HealthServer) -> None:
    second = HealthServer(f"127.0.0.1:{server.port}", CollectorRegistry())
    with pytest.raises(
        ConfigurationError, match=r"^DATAFLOW_METRICS_ADDR .*address already in use"
    ):
        second.start()


def test_stopping_releases_the_port() -> None:
    server = HealthServer("127.0.0.1:0", CollectorRegistry())
    server.start()
    port = server.port
    server.stop()
    again = HealthServer(f"127.0.0.1:{port}", CollectorRegistry())
    again.start()
    again.stop()


def test_metrics_leave_out_the_created_timestamps(server: HealthServer) -> None:
    for accept in ("", "application/openmetrics-text; version=1.0.0"):
        text = httpx.get(f"{server.url}/metrics", headers={"Accept": accept}).text
        assert "_created" not in text
        assert "dataflow_step_attempts_total" in text

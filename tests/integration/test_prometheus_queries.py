"""A real Prometheus scrapes a worker and evaluates every dashboard and alert expression.

Each expression must parse, and each one over worker metrics must return series (thresholds
removed from alert expressions, the dashboard's variables filled: one job, all its instances):
a panel or an alert that queries a metric the worker does not export, or a label it never sets,
fails here. An ``absent(...)`` alert must return nothing while the worker is scraped. The
dashboard's variables must offer the scraped job and worker. RabbitMQ-plugin expressions are
checked for parsing only (the broker's plugin is not part of the test services). The worker is
real: it runs on RabbitMQ against the emulator and serves its own ``/metrics`` while Prometheus
scrapes it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry

from tests.integration.test_observability_worker import worker_scenario
from tests.services import RABBITMQ_URL, in_ci, require_service
from tests.unit.test_metrics_queries import (
    ALERTS,
    FOREIGN_METRICS,
    alert_rules,
    dashboard_expressions,
    metric_names,
    variable_queries,
    without_thresholds,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RABBITMQ_METRICS = {name for name in FOREIGN_METRICS if name.startswith("rabbitmq_")}
SCRAPE_CONFIG = ALERTS.parent / "prometheus.yml"


def _free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(check: Any, what: str, timeout: float = 30.0) -> Any:
    """Poll check until it returns something truthy; fail saying what after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Prometheus:
    """A Prometheus server in a temp dir, configured from deploy/prometheus with our targets."""

    def __init__(self, workdir: Path, worker: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.at: float | None = None  # the evaluation time of the tests' queries
        config = yaml.safe_load(SCRAPE_CONFIG.read_text(encoding="utf-8"))
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(ALERTS)]
        for job in config["scrape_configs"]:
            if job["job_name"] == "dataflow-worker":
                job["static_configs"] = [{"targets": [worker]}]
            else:  # RabbitMQ's plugin: a port where nothing answers; parse-only checks
                job["static_configs"] = [{"targets": [f"127.0.0.1:{_free_port()}"]}]
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        self._log = (workdir / "prometheus.log").open("w")
        self._process = subprocess.Popen(
            [
                _prometheus_binary(),
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def query(self, expr: str, at: float | None = None) -> dict[str, Any]:
        """The JSON answer of an instant query (status error included, not raised)."""
        params: dict[str, str | float] = {"query": expr}
        if at is not None:
            params["time"] = at
        response = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=10)
        answer: dict[str, Any] = response.json()
        return answer

    def wait_ready(self) -> None:
        """Block until the server answers /-/ready (it exits: fail with its log)."""

        def ready() -> bool:
            """True once Prometheus answers /-/ready."""
            if self._process.poll() is not None:
                raise AssertionError(f"prometheus exited with {self._process.returncode}")
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200

        _wait_for(ready, "prometheus to be ready")

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


def _prometheus_binary() -> str:
    """The prometheus binary; skip locally (fail in CI) when it is missing."""
    path = shutil.which("prometheus")
    if path is None:
        reason = "prometheus is not installed (Debian package 'prometheus')"
        if in_ci():
            pytest.fail(f"{reason}; CI must install it (see .ci/run)")
        pytest.skip(reason)
    return path


def _series(server: Prometheus, expr: str) -> list[dict[str, Any]]:
    """The series an instant query returns now (it must parse)."""
    answer = server.query(expr)
    assert answer["status"] == "success", answer.get("error")
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Prometheus scraping a real worker (its own /metrics) through a success, a retry and a
    failure; yields while the worker still runs, after three scrapes that saw the traffic."""
    _prometheus_binary()
    require_service("rabbitmq")
    metrics_addr = f"127.0.0.1:{_free_port()}"
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), metrics_addr)
    try:
        server.wait_ready()
        with worker_scenario(
            RABBITMQ_URL, tmp_path_factory.mktemp("worker"), CollectorRegistry(), metrics_addr
        ) as scenario:
            finished = scenario.value("dataflow_requests_finished_total", outcome="failed")
            seen = _wait_for(
                lambda: _series(
                    server,
                    f'dataflow_requests_finished_total{{outcome="failed"}} == {finished:g}'
                    ' and on (instance) up{job="dataflow-worker"} == 1'
                    ' and on (instance) count_over_time(up{job="dataflow-worker"}[1m]) >= 3',
                ),
                "three scrapes, the last one after the traffic",
            )
            # Evaluate everything at that moment: a later scrape that fails on a slow machine
            # would otherwise make the worker's series stale.
            server.at = float(seen[0]["value"][0])
            yield server
    finally:
        server.stop()


EXPRESSIONS = [
    *(pytest.param(expr, id=f"dashboard: {title}") for title, expr in dashboard_expressions()),
    *(pytest.param(expr, id=f"dashboard variable: ${name}") for name, expr in variable_queries()),
    *(
        pytest.param(without_thresholds(rule["expr"]), id=f"alert: {rule['alert']}")
        for rule in alert_rules()
    ),
]


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_every_expression_parses_and_returns_series_for_worker_metrics(
    prometheus: Prometheus, expr: str
) -> None:
    answer = prometheus.query(expr, at=prometheus.at)
    assert answer["status"] == "success", answer.get("error")
    if metric_names(expr) & RABBITMQ_METRICS:
        return  # parse-only: RabbitMQ's plugin is not scraped in this test
    if expr.startswith("absent("):
        assert answer["data"]["result"] == [], f"{expr} fires although the worker is scraped"
        return
    assert answer["data"]["result"], f"no series for {expr}"


def test_the_dashboard_variables_offer_the_scraped_job_and_worker(prometheus: Prometheus) -> None:
    queries = dict(variable_queries())

    def values(name: str, label: str) -> set[str]:
        result = prometheus.query(queries[name], at=prometheus.at)["data"]["result"]
        return {series["metric"][label] for series in result}

    (up,) = prometheus.query('up{job="dataflow-worker"}', at=prometheus.at)["data"]["result"]
    assert values("job", "job") == {"dataflow-worker"}
    assert values("instance", "instance") == {up["metric"]["instance"]}


def test_prometheus_scraped_the_worker_and_loaded_every_rule(prometheus: Prometheus) -> None:
    (up,) = prometheus.query('up{job="dataflow-worker"}', at=prometheus.at)["data"]["result"]
    assert up["value"][1] == "1"
    rules = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = {rule["name"]: rule for group in rules for rule in group["rules"]}
    assert set(loaded) == {rule["alert"] for rule in alert_rules()}
    _wait_for(
        lambda: all(
            rule.get("health") == "ok"
            for group in httpx.get(f"{prometheus.url}/api/v1/rules", timeout=10).json()["data"][
                "groups"
            ]
            for rule in group["rules"]
        ),
        "every rule evaluated without error",
    )

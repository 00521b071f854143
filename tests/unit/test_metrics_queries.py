"""Every PromQL expression of the dashboard and the alert rules names metrics the worker exports.

The loaders here are shared with the Prometheus integration test, which evaluates the same
expressions against a real server.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from worker.observability.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "dataflow-worker.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"

# What Grafana substitutes before the query reaches Prometheus: its own variables, and the
# dashboard's (one job, all its instances, any vhost, the default topology prefix).
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$job": "dataflow-worker",
    "$instance": ".+",
    "$vhost": ".+",
    "$prefix": "dataflow",
}
WORKER_MATCHERS = 'job=~"$job", instance=~"$instance"'
# Metrics that come from elsewhere than the worker: Prometheus itself and RabbitMQ's plugin.
FOREIGN_METRICS = {
    "up",
    "rabbitmq_detailed_queue_messages",
    "rabbitmq_detailed_queue_messages_ready",
    "rabbitmq_detailed_queue_messages_unacked",
    "rabbitmq_detailed_queue_consumers",
}
_COMPARISON = re.compile(r"\s*(?:==|!=|>=|<=|>|<)\s*-?[0-9][0-9.e+]*")
_FUNCTIONS_AND_KEYWORDS = {
    "sum", "by", "rate", "increase", "histogram_quantile", "count", "and", "on", "deriv",
    "max", "min", "avg", "without", "or", "unless", "ignoring", "group_left", "group_right",
    "absent", "group",
}  # fmt: skip
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>[a-z_]+)\)$")
_SELECTOR = re.compile(r"\b(?P<name>[a-z_][a-z0-9_]*)\{(?P<matchers>[^}]*)\}")
RUNBOOK_URL = re.compile(
    r"^\{\{ with \$externalLabels\.dataflow_runbook \}\}\{\{ \. \}\}"
    r"\{\{ else \}\}docs/runbook\.md\{\{ end \}\}#(?P<anchor>[a-z0-9-]+)$"
)


def filled(expr: str) -> str:
    """The expression as Grafana sends it, every variable replaced by the tests' value."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def dashboard_expressions(*, fill: bool = True) -> list[tuple[str, str]]:
    """(panel title, expression) for every query of the dashboard, Grafana variables filled."""
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append((panel["title"], filled(target["expr"]) if fill else target["expr"]))
    return found


def dashboard_variables() -> dict[str, dict[str, Any]]:
    """The dashboard's template variables by name."""
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return {variable["name"]: variable for variable in dashboard["templating"]["list"]}


def variable_queries() -> list[tuple[str, str]]:
    """(variable, PromQL) for each ``label_values(SELECTOR, LABEL)`` variable of the dashboard.

    Grafana asks Prometheus for the label's values among the selector's series; the same
    question in PromQL is ``group by (LABEL) (SELECTOR)``, which a test can evaluate.
    """
    found = []
    for name, variable in dashboard_variables().items():
        if variable["type"] != "query":
            continue
        match = _LABEL_VALUES.match(variable["query"]["query"])
        assert match, f"${name}: not a label_values(...) query"
        found.append((name, f"group by ({match['label']}) ({filled(match['selector'])})"))
    return found


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of deploy/prometheus/alerts.yml."""
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def without_thresholds(expr: str) -> str:
    """The expression with every comparison against a number removed (what it measures)."""
    return _COMPARISON.sub("", expr)


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (identifiers that are not functions or labels)."""
    cleaned = re.sub(r"\{[^}]*\}", "", re.sub(r"\[[^\]]*\]", "", expr))
    cleaned = re.sub(r"\b(?:by|on|without|ignoring)\s*\([^)]*\)", "", cleaned)
    names = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", cleaned))
    return {n for n in names if n not in _FUNCTIONS_AND_KEYWORDS and not n[0].isdigit()}


def exported_names() -> set[str]:
    """Every sample name a fresh worker exports."""
    registry = CollectorRegistry()
    Metrics(registry)
    text = generate_latest(registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


ALL_EXPRESSIONS = [*dashboard_expressions(), *((r["alert"], r["expr"]) for r in alert_rules())]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up{job=\"w\"} == 0", "up{job=\"w\"}"),
        ("a / b > 0.05", "a / b"),
        ("x > 100\n and on (q)\nderiv(x[9m]) > 0", "x\n and on (q)\nderiv(x[9m])"),
        ("histogram_quantile(0.99, rate(h[5m])) > 1200", "histogram_quantile(0.99, rate(h[5m]))"),
        ("y >= 1e3", "y"),
    ],
)  # fmt: skip
def test_thresholds_are_removed_from_an_expression(expr: str, expected: str) -> None:
    assert without_thresholds(expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('sum by (outcome) (rate(dataflow_requests_finished_total{outcome="x"}[1m]))',
         {"dataflow_requests_finished_total"}),
        ("histogram_quantile(0.95, sum by (step, le) (rate(dataflow_step_seconds_bucket[5m])))",
         {"dataflow_step_seconds_bucket"}),
        ('up{job="dataflow-worker"} == 0', {"up"}),
    ],
)  # fmt: skip
def test_metric_names_are_found_in_an_expression(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


@pytest.mark.parametrize(("where", "expr"), ALL_EXPRESSIONS)
def test_every_query_names_only_metrics_the_worker_or_rabbitmq_export(
    where: str, expr: str
) -> None:
    unknown = metric_names(expr) - exported_names() - FOREIGN_METRICS
    assert not unknown, f"{where}: {sorted(unknown)} are not exported"


def test_the_dashboard_shows_every_metric_of_the_contract() -> None:
    shown = {name for _, expr in dashboard_expressions() for name in metric_names(expr)}
    for metric in (
        "dataflow_requests_finished_total", "dataflow_messages_received_total",
        "dataflow_step_attempts_total", "dataflow_step_duration_seconds_bucket",
        "dataflow_request_duration_seconds_bucket", "dataflow_platform_requests_total",
        "dataflow_platform_request_duration_seconds_bucket", "dataflow_requests_in_flight",
        "dataflow_dead_lettered_total", "dataflow_events_published_total", "dataflow_build_info",
        "rabbitmq_detailed_queue_messages_ready", "rabbitmq_detailed_queue_consumers",
    ):  # fmt: skip
        assert metric in shown


def test_every_panel_queries_the_chosen_prometheus_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_a_severity_a_summary_and_a_runbook_section(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"page", "ticket"}
    assert rule["annotations"]["summary"]
    link = RUNBOOK_URL.match(rule["annotations"]["runbook_url"])
    assert link, "runbook_url: the runbook's address from dataflow_runbook, else docs/runbook.md"
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(encoding="utf-8"), flags=re.MULTILINE)
    anchors = {re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-") for h in headings}
    assert link["anchor"] == rule["alert"].lower()
    assert link["anchor"] in anchors


def test_the_dashboard_layout_is_well_formed() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    assert dashboard["uid"] == "dataflow-worker"
    variables = dashboard_variables()
    assert list(variables) == ["datasource", "job", "instance", "vhost", "prefix"]
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == (
        "datasource", "prometheus",
    )  # fmt: skip
    assert (variables["job"]["multi"], variables["job"]["includeAll"]) == (False, False)
    assert (variables["instance"]["multi"], variables["instance"]["includeAll"]) == (True, True)
    assert variables["prefix"]["query"] == "dataflow"


@pytest.mark.parametrize(("where", "expr"), dashboard_expressions(fill=False))
def test_every_dashboard_query_is_limited_to_the_chosen_job_instances_and_vhost(
    where: str, expr: str
) -> None:
    selectors = list(_SELECTOR.finditer(expr))
    assert selectors, f"{where}: no selector with matchers in {expr}"
    names = {selector["name"] for selector in selectors}
    assert names == metric_names(filled(expr)), f"{where}: a metric without matchers in {expr}"
    for selector in selectors:
        matchers = selector["matchers"]
        if selector["name"].startswith("rabbitmq_"):
            assert matchers.startswith('vhost=~"$vhost", queue'), f"{where}: {matchers}"
            assert "$prefix." in matchers, f"{where}: {matchers}"
            assert "dataflow." not in matchers, f"{where}: {matchers}"
        else:
            assert matchers.startswith(WORKER_MATCHERS), f"{where}: {matchers}"


def test_the_dashboard_shows_the_retry_queues_the_parking_lot_and_unready_workers() -> None:
    exprs = [expr for _, expr in dashboard_expressions()]
    assert any('queue=~"dataflow.retry.[0-9]+s"' in expr for expr in exprs)
    assert any('rabbitmq_detailed_queue_messages{vhost=~".+", queue="dataflow.dead"}' in expr
               for expr in exprs)  # fmt: skip
    assert any("(1 - dataflow_ready{" in expr and "(1 - dataflow_circuit_open{" in expr
               for expr in exprs)  # fmt: skip


@pytest.mark.parametrize(("variable", "query"), variable_queries())
def test_every_variable_asks_for_a_label_of_a_metric_the_worker_or_rabbitmq_export(
    variable: str, query: str
) -> None:
    unknown = metric_names(query) - exported_names() - FOREIGN_METRICS
    assert not unknown, f"${variable}: {sorted(unknown)} are not exported"


def test_the_grafana_provisioning_files_declare_prometheus_and_the_dashboards_folder() -> None:
    provisioning = DASHBOARD.parents[1] / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    providers = yaml.safe_load((provisioning / "dashboards" / "dataflow-worker.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]


def test_the_runbook_lists_exactly_the_metrics_the_worker_exports() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    families = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in registry.collect()
    }
    listed = re.findall(r"^\| `([a-z_]+)` \|", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted("dataflow_" + name for name in listed) == sorted(families)

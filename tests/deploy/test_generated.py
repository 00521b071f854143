"""The generated deployment files follow their sources (deploy/generate.py, `make k8s`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import generate
from tests.deploy.support import DEPLOY, K8S, ROOT, find, kustomize, require_tool

pytestmark = pytest.mark.integration  # runs kubectl and promtool

ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "dataflow-worker.json"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_committed_files_equal_a_fresh_generation() -> None:
    assert generate.stale(ROOT) == [], "derived files are out of date: run `make k8s`"


def test_the_prometheus_rule_carries_exactly_the_alert_rules() -> None:
    rule = find(kustomize(K8S), "PrometheusRule")
    assert rule["spec"]["groups"] == _yaml(ALERTS)["groups"]


def test_the_dashboard_config_map_holds_the_dashboard_for_the_grafana_sidecar() -> None:
    config_map = find(kustomize(K8S), "ConfigMap", "dataflow-worker-dashboards")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"][DASHBOARD.name]) == json.loads(
        DASHBOARD.read_text(encoding="utf-8")
    )


def test_the_compose_scrape_config_changes_nothing_but_the_targets() -> None:
    original = _yaml(DEPLOY / "prometheus" / "prometheus.yml")
    compose = _yaml(DEPLOY / "prometheus" / "prometheus.compose.yml")
    for config in (original, compose):
        for job in config["scrape_configs"]:
            job.pop("static_configs")
    assert compose == original


def test_promtool_accepts_the_compose_scrape_config_and_its_rules() -> None:
    promtool = require_tool("promtool", "Debian package 'prometheus'")
    result = subprocess.run(
        [promtool, "check", "config", "prometheus.compose.yml"],
        cwd=DEPLOY / "prometheus",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rule files found" in result.stdout + result.stderr


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the sources and derived files, to change without touching the checkout."""
    for folder in ("prometheus", "grafana/dashboards", "k8s/base"):
        shutil.copytree(DEPLOY / folder, tmp_path / "deploy" / folder)
    return tmp_path


def test_check_names_the_stale_file_and_generation_repairs_it(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alerts = tree / "deploy" / "prometheus" / "alerts.yml"
    alerts.write_text(alerts.read_text(encoding="utf-8").replace("> 0.05", "> 0.1"), "utf-8")

    assert generate.main(["--check"], root=tree) == 1
    assert (
        "deploy/k8s/base/prometheusrule.yaml: out of date (run `make k8s`)"
        in capsys.readouterr().err
    )
    assert generate.main([], root=tree) == 0
    assert generate.main(["--check"], root=tree) == 0
    rule = _yaml(tree / generate.PROMETHEUS_RULE)
    assert "> 0.1" in rule["spec"]["groups"][0]["rules"][0]["expr"]


def test_a_rule_file_without_groups_is_refused() -> None:
    with pytest.raises(generate.GenerateError, match="no groups"):
        generate.prometheus_rule({"groups": []})


def test_a_scrape_job_without_compose_targets_is_refused() -> None:
    config = {"scrape_configs": [{"job_name": "dataflow-worker"}, {"job_name": "postgres"}]}
    with pytest.raises(generate.GenerateError, match="COMPOSE_TARGETS"):
        generate.compose_scrape_config(config)


def test_multi_line_strings_are_written_as_literal_blocks() -> None:
    text = generate.render({"expr": "a\n  > 1\n"}, "here")
    assert text.splitlines()[2:] == ["expr: |", "  a", "    > 1"]

"""The alert rules and scrape config pass promtool; every alert has a firing and a quiet test."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.services import in_ci
from tests.unit.test_metrics_queries import ALERTS, alert_rules

pytestmark = pytest.mark.integration

PROMETHEUS_DIR = ALERTS.parent
ALERT_TESTS = PROMETHEUS_DIR / "alerts_test.yml"


def _promtool() -> str:
    """The promtool binary; skip locally (fail in CI) when it is missing."""
    path = shutil.which("promtool")
    if path is None:
        reason = "promtool is not installed (Debian package 'prometheus')"
        if in_ci():
            pytest.fail(f"{reason}; CI must install it (see .ci/run)")
        pytest.skip(reason)
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool in deploy/prometheus and return what it said."""
    return subprocess.run(
        [_promtool(), *args],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_promtool_accepts_the_alert_rules() -> None:
    result = _run("check", "rules", ALERTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_scrape_config() -> None:
    result = _run("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_unit_tests_pass() -> None:
    result = _run("test", "rules", ALERT_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def _cases() -> list[dict[str, Any]]:
    """Every alert_rule_test case of alerts_test.yml."""
    document = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    return [case for test in document["tests"] for case in test.get("alert_rule_test", [])]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_a_case_that_fires_and_one_that_does_not(rule: dict[str, Any]) -> None:
    mine = [case for case in _cases() if case["alertname"] == rule["alert"]]
    assert any(case.get("exp_alerts") for case in mine), "no case where it fires"
    assert any(not case.get("exp_alerts") for case in mine), "no case where it stays quiet"

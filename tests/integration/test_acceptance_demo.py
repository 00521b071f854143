"""Acceptance 8: ``dataflow-worker demo`` passes on a machine where no broker is reachable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.harness import REPO, free_port

pytestmark = pytest.mark.integration


def test_the_demo_onboards_every_sample_table_with_no_broker_reachable() -> None:
    closed = free_port()  # nothing listens there: the demo must not need a broker at all
    env = {
        **os.environ,
        "DATAFLOW_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{closed}//",
        "DATAFLOW_STATE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "DATAFLOW_PLATFORM_URL": "https://platform.invalid",
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "worker", "demo"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 dataflows created, 0 failed" in result.stdout
    assert result.stdout.count(" created │") == 10
    assert "public.customers" in result.stdout
    assert "Traceback" not in result.stderr

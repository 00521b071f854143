"""Acceptance 8: ``dataflow-worker demo`` passes on a machine where no broker is reachable.

Its output goes to pipes, as in CI: the table is as wide as its content (no ``COLUMNS``), every
flow id is whole, and the progress comes as lines on standard error.
"""

from __future__ import annotations

import os
import re
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
    assert (
        len(
            re.findall(
                r"│ [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} │", result.stdout
            )
        )
        == 10
    )
    assert "attempts: how often the worker started the table's steps" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("Next: the README's walkthrough")
    progress = [line for line in result.stderr.splitlines() if line.startswith("demo: ")]
    first = r"demo: 0 of 10 dataflows done \(0 created, 0 failed\), 0 of 75 steps, \d+ s"
    assert re.fullmatch(first, progress[0])
    assert progress[-1].startswith("demo: 10 of 10 dataflows done (10 created, 0 failed)")
    assert "Traceback" not in result.stderr

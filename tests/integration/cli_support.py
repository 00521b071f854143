"""Running ``dataflow-worker`` as a user does: a child process whose output goes to pipes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m worker ARGS`` with only ``env``'s DATAFLOW_* settings; output captured.

    Standard output and error are pipes, not a terminal, as in CI. The DATAFLOW_* variables of
    the test run itself are left out, so a developer's settings never leak into a test.
    """
    clean = {key: value for key, value in os.environ.items() if not key.startswith("DATAFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        env={**clean, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

"""``.ci/audit.py`` end to end, with a stand-in for pip-audit that answers as the real one does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.ci_audit import SCRIPT

pytestmark = pytest.mark.integration

STAND_IN = """
import json, sys
args = sys.argv[1:]
output = args[args.index("--output") + 1]
mode = {mode!r}
if mode == "offline":
    sys.stderr.write("requests.exceptions.ConnectionError: Max retries exceeded\\n")
    sys.exit(1)
if mode == "broken":
    sys.stderr.write("error: unrecognized arguments\\n")
    sys.exit(2)
open(output, "w").write(json.dumps({report}))
sys.exit(1 if "vulns" in {report!r} else 0)
"""


def run_audit(tmp_path: Path, mode: str, found: dict[str, Any], exceptions: str = "") -> Any:
    """Run the script with a stand-in pip-audit; return the completed process."""
    stand_in = tmp_path / "pip_audit_stand_in.py"
    stand_in.write_text(STAND_IN.format(mode=mode, report=found), encoding="utf-8")
    requirements = tmp_path / "constraints.txt"
    requirements.write_text("urllib3==1.0\n", encoding="utf-8")
    accepted = tmp_path / "audit-exceptions"
    accepted.write_text(exceptions, encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--requirements",
            str(requirements),
            "--exceptions",
            str(accepted),
            "--pip-audit",
            f"{sys.executable} {stand_in}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


VULNERABLE = {
    "dependencies": [
        {
            "name": "urllib3",
            "version": "1.0",
            "vulns": [{"id": "PYSEC-1", "fix_versions": ["2.0"], "aliases": []}],
        }
    ]
}


def test_a_fixable_vulnerability_fails_the_script_with_exit_1(tmp_path: Path) -> None:
    done = run_audit(tmp_path, "report", VULNERABLE)
    assert done.returncode == 1, done.stderr
    assert "FAIL urllib3 1.0: PYSEC-1 (fixed in 2.0)" in done.stdout


def test_an_accepted_vulnerability_passes_the_script(tmp_path: Path) -> None:
    done = run_audit(tmp_path, "report", VULNERABLE, "PYSEC-1 not reachable from our code\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "accepted urllib3 1.0: PYSEC-1" in done.stdout


def test_an_unreachable_service_warns_and_passes(tmp_path: Path) -> None:
    done = run_audit(tmp_path, "offline", {})
    assert done.returncode == 0
    assert "cannot be reached" in done.stdout


def test_a_broken_pip_audit_is_an_error_not_a_pass(tmp_path: Path) -> None:
    done = run_audit(tmp_path, "broken", {})
    assert done.returncode == 2
    assert "pip-audit exited 2 without a report" in done.stderr


def test_the_real_pip_audit_runs_on_the_projects_pins() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith(("audit passed", "warning: the vulnerability"))

"""Acceptance 2: the README's walkthrough runs as written, against the emulator and real services.

The blocks marked ``<!-- walkthrough -->`` in README.md are joined, in their order, into one bash
script that runs with ``-e -o pipefail`` in an empty directory: the emulator, a base connection,
publish, run, status, discover on a real PostgreSQL, onboard, the tutorial's calls by hand, stop.
Only what must not collide with another run on the same machine changes, each change asserted
to apply: the emulator's port (a free one), the database ``discover`` reads (a fresh one), and
settings the README leaves at their defaults come from the environment (a unique topology
prefix, a free metrics port, the tests' broker; the ledger too, in the PostgreSQL variant).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

import pytest

from tests.integration.harness import REPO, delete_topology, free_port, unique
from tests.integration.scenario import postgres_database
from tests.integration.worker_support import postgres_schema
from tests.services import in_ci

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

README = REPO / "README.md"
MARKER = "<!-- walkthrough -->"
README_PORT = "8080"
README_DB = "postgresql://postgres@127.0.0.1:5432/postgres"
TOOLS = ("bash", "curl", "jq", "psql")
_BLOCK = re.compile(re.escape(MARKER) + r"\n```(?:sh|bash)\n(.*?)```", re.DOTALL)


def walkthrough_blocks(markdown: str) -> list[str]:
    """The code of every block marked as part of the walkthrough, in the document's order."""
    return _BLOCK.findall(markdown)


def walkthrough_script(markdown: str, port: int, database_url: str) -> str:
    """The blocks as one script on ``port``, reading ``database_url``; each change must apply."""
    script = "\n".join(walkthrough_blocks(markdown))
    changes = {
        f"--port {README_PORT}": f"--port {port}",
        f"127.0.0.1:{README_PORT}": f"127.0.0.1:{port}",
        f"DB={README_DB}\n": f"DB={database_url}\n",
    }
    for old, new in changes.items():
        assert old in script, f"the walkthrough no longer says {old!r}: update this test"
        script = script.replace(old, new)
    return script


def require_tools() -> None:
    """Skip (laptop) or fail (CI) unless the walkthrough's command-line tools are installed."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        reason = f"the walkthrough needs {', '.join(missing)}"
        if in_ci():
            pytest.fail(f"{reason}; CI must install them (see .ci/run)")
        pytest.skip(reason)


def run_script(script: str, workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the script in bash as its own process group; whatever it left running is killed."""
    path = workdir / "walkthrough.sh"
    path.write_text(script, encoding="utf-8")
    process = subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", str(path)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=240)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the background jobs, if it failed midway
        process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_the_markdown_has_the_walkthrough_blocks_in_order() -> None:
    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    assert blocks[0].startswith("dataflow-worker emulator --port 8080")
    assert blocks[-1].strip() == "kill %1 %2"
    joined = "\n".join(blocks)
    for command in ("connectors list", "publish", "run --burst", "status", "discover", "onboard"):
        assert f"dataflow-worker {command}" in joined


@pytest.mark.parametrize("ledger", ["sqlite, as written", "postgresql"])
def test_the_readme_walkthrough_runs_as_written(
    rabbitmq_url: str, postgres_url: str, tmp_path: Path, ledger: str
) -> None:
    require_tools()
    prefix = unique("twalk")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DATAFLOW_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        DATAFLOW_BROKER_URL=rabbitmq_url,
        DATAFLOW_TOPOLOGY_PREFIX=prefix,
        DATAFLOW_METRICS_ADDR="127.0.0.1:0",
    )
    markdown = README.read_text(encoding="utf-8")
    try:
        with postgres_database(postgres_url) as source, postgres_schema(postgres_url) as state:
            if ledger == "postgresql":
                env["DATAFLOW_STATE_URL"] = state
            script = walkthrough_script(markdown, free_port(), source)
            result = run_script(script, tmp_path, env)
    finally:
        delete_topology(rabbitmq_url, prefix)
    output = result.stdout
    assert result.returncode == 0, f"{output}\n{result.stderr}\n{_tail(tmp_path / 'worker.log')}"
    assert re.search(r"^base connection [0-9a-f-]{36}$", output, re.MULTILINE)
    assert "1 request published, 0 invalid" in output
    assert re.search(r"^crm-mytable-1  created  attempts 7 ", output, re.MULTILINE)
    assert "2 tables in the manifest, 0 skipped" in result.stderr
    assert "onboard: 2 of 2 dataflows done (2 created, 0 failed)" in result.stderr
    assert re.search(r"^2 created$", output, re.MULTILINE)
    assert "3 created requests" in output
    [held] = [line for line in output.splitlines() if line.startswith('{"connections"')]
    assert {kind: json.loads(held)[kind] for kind in ("connections", "flows")} == {
        "connections": 1,
        "flows": 4,
    }
    assert "HTTP/1.1 429 Too Many Requests" in output
    assert (tmp_path / "dataflow-state.db").exists() == (ledger != "postgresql")


def _tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log the script wrote, for a failure's message."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

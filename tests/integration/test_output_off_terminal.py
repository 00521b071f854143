"""Acceptance 5: the commands' output works off a terminal, with every id whole.

The commands run as a user runs them in CI, with standard output and error going to pipes:
``onboard --wait`` prints progress lines while it waits (a progress bar would print nothing),
and ``status``, ``status --status`` and ``dlq list`` size their tables to the content, so no
id is cut or wrapped whatever its length.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from emulator.testing import POSTGRES_SPEC_ID, running_emulator
from tests.integration.cli_support import run_cli
from tests.integration.discovery_support import write_manifest
from tests.integration.harness import delete_topology, unique
from tests.integration.worker_support import running_worker, sqlite_url, worker_settings
from tests.services import RABBITMQ_URL, require_service

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Onboarded:
    """What one ``onboard --wait`` through pipes left: its output, the settings, the ids."""

    result: subprocess.CompletedProcess[str]
    env: dict[str, str]
    workdir: Path
    created: list[str]
    failed: str


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Onboarded]:
    """Two tables that get their dataflows and one that fails, onboarded with ``--wait``."""
    require_service("rabbitmq")
    workdir = tmp_path_factory.mktemp("offterminal")
    prefix = unique("tout")
    env = {
        "DATAFLOW_BROKER_URL": RABBITMQ_URL,
        "DATAFLOW_TOPOLOGY_PREFIX": prefix,
        "DATAFLOW_STATE_URL": sqlite_url(workdir),
    }
    try:
        with running_emulator() as emulator:
            base = emulator.create_base_connection(POSTGRES_SPEC_ID)
            manifest = workdir / "manifest.yaml"
            created = write_manifest(manifest, base, "customers_with_a_rather_long_name", "orders")
            [failed] = write_manifest(workdir / "ghost.yaml", "no-such-base-connection", "ghosts")
            document = yaml.safe_load(manifest.read_text())
            document["requests"] += yaml.safe_load((workdir / "ghost.yaml").read_text())["requests"]
            manifest.write_text(yaml.safe_dump(document))
            settings = worker_settings(RABBITMQ_URL, emulator, env["DATAFLOW_STATE_URL"], prefix)
            with running_worker(settings):
                args = ["onboard", "manifest.yaml", "--wait", "--timeout", "90"]
                result = run_cli([*args, "--progress-every", "0.2"], env, workdir)
        yield Onboarded(result, env, workdir, created, failed)
    finally:
        delete_topology(RABBITMQ_URL, prefix)


def test_onboard_wait_prints_progress_lines_from_start_to_end_and_no_control_codes(
    onboarded: Onboarded,
) -> None:
    result = onboarded.result
    assert result.returncode == 1, result.stdout + result.stderr  # the ghost table failed
    progress = [line for line in result.stderr.splitlines() if line.startswith("onboard: ")]
    assert progress[0].startswith("onboard: 0 of 3 dataflows done (0 created, 0 failed), 0 of ")
    assert progress[-1].startswith("onboard: 3 of 3 dataflows done (2 created, 1 failed), ")
    assert "\x1b[" not in result.stdout + result.stderr
    assert "2 created, 1 failed" in result.stdout


def test_status_of_a_request_shows_every_resource_id_whole_on_one_line(
    onboarded: Onboarded,
) -> None:
    request_id = onboarded.created[0]
    view = run_cli(["status", "--json", request_id], onboarded.env, onboarded.workdir)
    steps = json.loads(view.stdout)["steps"]
    table = run_cli(["status", request_id], onboarded.env, onboarded.workdir)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert any(len(step["resource_id"]) > 60 for step in steps)  # the schema's $id is long
    for step in steps:
        [row] = [line for line in lines if f"│ {step['step']} " in line]
        assert step["resource_id"] in row
    assert request_id in lines[0]


@pytest.mark.parametrize("state", ["created", "failed"])
def test_the_list_of_requests_in_a_state_shows_every_request_id_whole(
    onboarded: Onboarded, state: str
) -> None:
    result = run_cli(["status", "--status", state], onboarded.env, onboarded.workdir)
    assert result.returncode == 0, result.stderr
    listed = run_cli(["status", "--status", state, "--json"], onboarded.env, onboarded.workdir)
    rows = {row["request_id"]: row for row in json.loads(listed.stdout)}
    expected = onboarded.created if state == "created" else [onboarded.failed]
    assert sorted(rows) == sorted(expected)
    for request_id in expected:
        [line] = [line for line in result.stdout.splitlines() if f"│ {request_id} │" in line]
        if state == "created":
            assert f"│ {rows[request_id]['flow_id']} │" in line


def test_dlq_list_shows_the_parked_request_id_and_its_whole_message(onboarded: Onboarded) -> None:
    rows = json.loads(run_cli(["dlq", "list", "--json"], onboarded.env, onboarded.workdir).stdout)
    [parked] = [row for row in rows if row["request_id"] == onboarded.failed]
    table = run_cli(["dlq", "list"], onboarded.env, onboarded.workdir)
    assert table.returncode == 0, table.stderr
    [row] = [line for line in table.stdout.splitlines() if onboarded.failed in line]
    assert parked["message"] in row

"""``dataflow-worker emulator`` as a process: flags, fault JSON, credentials, loopback only."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from emulator.testing import MARIADB_SPEC_ID, emulator_process
from worker.cli import cli

pytestmark = pytest.mark.integration

CONNECTIONS = "/data/foundation/flowservice/connections"


def test_the_command_serves_with_inline_faults_a_sandbox_and_restricted_clients() -> None:
    faults = json.dumps({"seed": 3, "errors": {"503": 0.0}})
    with emulator_process(
        "--fault-json", faults, "--sandbox", "Dev", "--client", "app:s3cret", "--latency-ms", "1"
    ) as emu:
        assert emu.faults() == {"seed": 3, "errors": {"503": 0.0}, "latency_ms": 1.0}
        refused = httpx.post(
            f"{emu.url}/ims/token/v3",
            data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
        )
        assert refused.status_code == 401
        emu.client_id, emu.client_secret = "app", "s3cret"
        assert emu.create_base_connection(MARIADB_SPEC_ID, sandbox="dev")


def test_the_command_reads_fault_settings_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({"throttle": {"rate": 1, "retry_after_s": None}}))
    with emulator_process("--fault-json", str(path)) as emu:
        with emu.client() as http:
            response = http.get(CONNECTIONS)
        assert response.status_code == 429
        assert "retry-after" not in response.headers


def test_a_killed_emulator_process_stops_answering() -> None:
    with emulator_process() as emu:
        emu.create_base_connection(MARIADB_SPEC_ID)
        emu.kill()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{emu.url}/__emulator/resources", timeout=2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "--allow-remote"),  # noqa: S104 -- the address being refused
        (["--fault-json", '{"latency": 1}'], "unknown fault settings"),
        (["--fault-json", "/nonexistent/faults.json"], "not JSON and not a readable file"),
        (["--client", "no-secret"], "ID:SECRET"),
    ],
)
def test_bad_flags_are_a_usage_error_on_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["emulator", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_a_taken_port_is_a_usage_error_on_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["emulator", "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_the_command_documents_its_flags() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "worker", "emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for flag in ("--host", "--port", "--latency-ms", "--fault-json", "--client", "--sandbox"):
        assert flag in result.stdout

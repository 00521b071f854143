"""``doctor`` against a real RabbitMQ, a SQLite ledger and the emulator: one line per check."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from emulator.testing import running_emulator
from tests.integration.platform_support import emulator_env, run_command
from worker.ledger import open_ledger

pytestmark = pytest.mark.integration


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.create_server(("127.0.0.1", 0)) as reserved:
        port: int = reserved.getsockname()[1]
    return port


def lines(output: str) -> dict[str, tuple[str, str]]:
    """Check name -> (outcome, detail) from doctor's output."""
    found = {}
    for line in output.splitlines():
        name, outcome, detail = line.split(maxsplit=2)
        found[name] = (outcome, detail)
    return found


def test_every_check_passes_with_working_settings(rabbitmq_url: str, tmp_path: Path) -> None:
    state_url = f"sqlite:///{tmp_path}/state.db"
    open_ledger(state_url).close()  # a worker ran here before
    with running_emulator() as emu:
        result = run_command(
            ["doctor"], emulator_env(emu, broker_url=rabbitmq_url, state_url=state_url)
        )
    assert result.exit_code == 0, result.output
    checks = lines(result.stdout)
    assert list(checks) == ["broker", "ledger", "ims", "platform"]
    assert {outcome for outcome, _ in checks.values()} == {"ok"}
    assert checks["broker"][1] == "connected to amqp://guest:***@127.0.0.1:5672//"
    assert checks["ledger"][1] == f"opened and read {state_url}"
    assert checks["platform"][1] == f"answered at {emu.url} (sandbox prod)"


def test_each_broken_dependency_is_named_with_what_is_wrong(tmp_path: Path) -> None:
    port = closed_port()
    with running_emulator(clients={"emulator-test-client": "emulator-test-secret"}) as emu:
        env = emulator_env(
            emu,
            broker_url=f"amqp://guest:hidden@127.0.0.1:{port}//",
            state_url=f"postgresql://postgres@127.0.0.1:{port}/state",
            client_secret="wrong-secret",
        )
        result = run_command(["doctor"], env)
    assert result.exit_code == 1
    checks = lines(result.stdout)
    assert checks["broker"][0] == "FAILED"
    assert f"127.0.0.1:{port}" in checks["broker"][1]
    assert "Connection refused" in checks["broker"][1]
    assert checks["ledger"][0] == "FAILED"
    assert f"127.0.0.1:{port}" in checks["ledger"][1]
    assert checks["ims"][0] == "FAILED"
    assert checks["ims"][1].startswith("IMS refused the credentials: 401 invalid_client")
    assert checks["platform"] == ("skipped", "it needs a token from IMS")
    for secret in ("hidden", "wrong-secret"):
        assert secret not in result.output


def test_a_ledger_url_of_an_unsupported_scheme_is_a_one_line_configuration_error() -> None:
    with running_emulator() as emu:
        result = run_command(["doctor"], emulator_env(emu, state_url="mysql://127.0.0.1/state"))
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "DATAFLOW_STATE_URL: unsupported scheme 'mysql'" in result.output


def test_an_unreachable_platform_is_named_by_the_origin_tried(
    rabbitmq_url: str, tmp_path: Path
) -> None:
    platform = f"http://127.0.0.1:{closed_port()}"
    with running_emulator() as emu:
        env = emulator_env(emu, broker_url=rabbitmq_url, state_url=f"sqlite:///{tmp_path}/s.db")
        result = run_command(["doctor"], {**env, "DATAFLOW_PLATFORM_URL": platform})
    assert result.exit_code == 1
    checks = lines(result.stdout)
    assert checks["ims"][0] == "ok"
    assert checks["platform"][0] == "FAILED"
    assert f"failed at {platform}: ConnectError" in checks["platform"][1]


def test_missing_credentials_fail_the_ims_check_and_say_what_to_set(
    rabbitmq_url: str, tmp_path: Path
) -> None:
    env = {"DATAFLOW_BROKER_URL": rabbitmq_url, "DATAFLOW_STATE_URL": f"sqlite:///{tmp_path}/s.db"}
    result = run_command(["doctor"], env)
    assert result.exit_code == 1
    checks = lines(result.stdout)
    assert checks["ims"][0] == "FAILED"
    assert "set DATAFLOW_CLIENT_ID, DATAFLOW_CLIENT_SECRET, DATAFLOW_ORG_ID" in checks["ims"][1]


def test_a_sqlite_ledger_that_does_not_exist_yet_is_not_created(
    rabbitmq_url: str, tmp_path: Path
) -> None:
    fresh, nowhere = tmp_path / "new.db", tmp_path / "missing" / "new.db"
    with running_emulator() as emu:
        ok = run_command(
            ["doctor"], emulator_env(emu, broker_url=rabbitmq_url, state_url=f"sqlite:///{fresh}")
        )
        bad = run_command(
            ["doctor"], emulator_env(emu, broker_url=rabbitmq_url, state_url=f"sqlite:///{nowhere}")
        )
    assert ok.exit_code == 0, ok.output
    assert lines(ok.stdout)["ledger"] == (
        "ok",
        f"sqlite:///{fresh} does not exist yet; the worker will create it",
    )
    assert not fresh.exists()
    assert bad.exit_code == 1
    assert lines(bad.stdout)["ledger"][0] == "FAILED"
    assert "is not a writable folder" in lines(bad.stdout)["ledger"][1]

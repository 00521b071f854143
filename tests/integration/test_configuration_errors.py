"""Settings that cannot work are one line on standard error and exit 2, in every command.

Each case runs the real command in a child process (as a user would), against the real broker:
a URL scheme kombu does not know, a refused login, a missing vhost, a port where nothing
listens, a ledger URL of no supported kind. The line says what to check and never repeats a
password.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.cli_support import run_cli
from tests.integration.harness import free_port
from tests.integration.samples import sample_request

pytestmark = pytest.mark.integration

SECRET = "hunter2-not-this-one"
CHECK_BROKER = "check DATAFLOW_BROKER_URL"


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit 2, one ``error:`` line on stderr saying ``expected``, no traceback, no password."""
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(errors) == 1, result.stderr  # `run` may log JSON lines before it fails
    assert errors[0].startswith("error: ")
    for text in expected:
        assert text in errors[0]
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr + result.stdout


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory holding one valid request file and a ledger path, with no ``.env``."""
    (tmp_path / "request.json").write_text(
        json.dumps(sample_request("crm-config-1", "base-1")), encoding="utf-8"
    )
    return tmp_path


def settings_for(workdir: Path, broker_url: str, **more: str) -> dict[str, str]:
    """Everything `run` needs besides the broker: credentials, a ledger, a free metrics port."""
    return {
        "DATAFLOW_BROKER_URL": broker_url,
        "DATAFLOW_STATE_URL": f"sqlite:///{workdir / 'state.db'}",
        "DATAFLOW_CLIENT_ID": "c",
        "DATAFLOW_CLIENT_SECRET": SECRET,
        "DATAFLOW_ORG_ID": "O@AdobeOrg",
        "DATAFLOW_METRICS_ADDR": "127.0.0.1:0",
        "DATAFLOW_TOPOLOGY_PREFIX": f"tcfg-{uuid.uuid4().hex[:8]}",
        **more,
    }


COMMANDS = {
    "publish": ["publish", "request.json"],
    "run": ["run"],
    "dlq list": ["dlq", "list"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "url", [f"rabbit://guest:{SECRET}@127.0.0.1:5672//", f"http://guest:{SECRET}@127.0.0.1:15672"]
)
def test_an_unknown_broker_url_scheme_is_one_line_and_exit_2(
    workdir: Path, command: str, url: str
) -> None:
    result = run_cli(COMMANDS[command], settings_for(workdir, url), workdir)
    scheme = url.split(":", 1)[0]
    assert_one_line_exit_2(result, f"DATAFLOW_BROKER_URL: unsupported scheme '{scheme}'", "amqp://")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_wrong_broker_password_is_one_line_exit_2_and_says_what_to_check(
    rabbitmq_url: str, workdir: Path, command: str
) -> None:
    url = rabbitmq_url.replace("guest:guest@", f"guest:{SECRET}@")
    assert url != rabbitmq_url
    result = run_cli(COMMANDS[command], settings_for(workdir, url), workdir)
    assert_one_line_exit_2(result, "ACCESS_REFUSED", "user name or password", CHECK_BROKER)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_vhost_is_one_line_exit_2_and_says_what_to_check(
    rabbitmq_url: str, workdir: Path, command: str
) -> None:
    vhost = f"no-such-vhost-{uuid.uuid4().hex[:8]}"
    url = rabbitmq_url.rstrip("/") + "/" + vhost
    result = run_cli(COMMANDS[command], settings_for(workdir, url), workdir)
    assert_one_line_exit_2(result, f"vhost {vhost} not found", "no such virtual host", CHECK_BROKER)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_refused_connection_is_one_line_exit_2_and_says_what_to_check(
    workdir: Path, command: str
) -> None:
    url = f"amqp://guest:{SECRET}@127.0.0.1:{free_port()}//"  # nothing listens there
    result = run_cli(COMMANDS[command], settings_for(workdir, url), workdir)
    assert_one_line_exit_2(result, "Connection refused", "is the broker running?", CHECK_BROKER)


@pytest.mark.parametrize("command", [["status"], ["run"], ["dlq", "replay", "--all"]])
@pytest.mark.parametrize(
    ("state_url", "message"),
    [
        (f"mysql://root:{SECRET}@127.0.0.1:3306/state", "unsupported scheme 'mysql'"),
        ("sqlite://state.db", "a SQLite ledger is sqlite:///PATH"),
    ],
)
def test_an_unsupported_ledger_url_is_one_line_and_exit_2(
    workdir: Path, command: list[str], state_url: str, message: str
) -> None:
    env = settings_for(workdir, "amqp://guest:guest@127.0.0.1:5672//")
    result = run_cli(command, {**env, "DATAFLOW_STATE_URL": state_url}, workdir)
    assert_one_line_exit_2(result, f"DATAFLOW_STATE_URL: {message}")

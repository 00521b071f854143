"""`dataflow-worker run` logs JSON lines with context, library logs included, and no secrets."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import POSTGRES_SPEC_ID, running_emulator
from tests.integration.harness import WorkerProcess, collecting_events, free_port, worker_env
from tests.integration.samples import sample_request
from tests.integration.worker_support import (
    publish_request,
    request_publisher,
    sqlite_url,
    topology_prefix,
)
from tests.services import RABBITMQ_URL, require_service

pytestmark = pytest.mark.integration

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
EVENT = re.compile(r"[a-z][a-z0-9_]*")
UNMASKED_BEARER = re.compile(r"(?i)bearer\s+(?!\*\*\*)[A-Za-z0-9\-._~+/]+")


def _run_worker_once(rabbitmq_url: str, tmp_path: Path, secret: str) -> str:
    """Run `dataflow-worker run --burst` at debug level over a success and a rejection."""
    with running_emulator() as emulator, topology_prefix(rabbitmq_url) as prefix:
        base = emulator.create_base_connection(POSTGRES_SPEC_ID)
        with (
            collecting_events(rabbitmq_url, prefix) as events,
            request_publisher(rabbitmq_url, prefix) as publisher,
        ):
            publish_request(publisher, sample_request("logs-ok", base))
            publish_request(publisher, sample_request("logs-fail", "no-such-base-connection"))
            env = worker_env(
                broker_url=rabbitmq_url,
                state_url=sqlite_url(tmp_path),
                prefix=prefix,
                platform_url=emulator.url,
                metrics_port=free_port(),
                client_secret=secret,
                client_id=emulator.client_id,
                org_id=emulator.org,
                log_level="debug",
            )
            worker = WorkerProcess(tmp_path, env, args=["--burst", "--burst-timeout", "60"])
            worker.start()
            try:
                assert worker.wait(timeout=90) == 0, worker.log_tail()
            finally:
                worker.stop()
            events.drain()
            assert set(events.terminal()) == {"logs-ok", "logs-fail"}
        return worker.log_path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The client secret used and the worker's whole log output."""
    require_service("rabbitmq")
    secret = f"obs-secret-{uuid.uuid4().hex}"
    return secret, _run_worker_once(RABBITMQ_URL, tmp_path_factory.mktemp("logs"), secret)


def _lines(text: str) -> list[dict[str, Any]]:
    """Every log line, parsed as JSON."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_every_line_is_json_with_utc_time_level_and_a_snake_case_event(
    output: tuple[str, str],
) -> None:
    lines = _lines(output[1])
    assert lines
    for line in lines:
        assert TIME.fullmatch(line["time"]), line
        assert line["level"] in {"debug", "info", "warning", "error", "critical"}, line
        assert EVENT.fullmatch(line["event"]), line


def test_work_is_logged_with_its_request_and_message_context(output: tuple[str, str]) -> None:
    lines = _lines(output[1])
    completed = [line for line in lines if line["event"] == "step_completed"]
    assert {line["request_id"] for line in completed} == {"logs-ok", "logs-fail"}
    for line in completed:
        assert line["message_id"]
        assert line["step"]
    (failed,) = [line for line in lines if line["event"] == "step_failed"]
    assert (failed["request_id"], failed["step"]) == ("logs-fail", "source_connection")


def test_library_logs_go_through_the_same_pipeline(output: tuple[str, str]) -> None:
    events = {line["event"] for line in _lines(output[1])}
    assert "amqp_log" in events  # py-amqp logs through the standard library


def test_neither_the_client_secret_nor_a_bearer_token_is_ever_logged(
    output: tuple[str, str],
) -> None:
    secret, text = output
    assert secret not in text
    assert not UNMASKED_BEARER.search(text)

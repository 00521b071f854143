"""The blocking bridge: the async client's operations as plain calls from many threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import structlog

from tests.unit.platform_fakes import mock_blocking_client
from worker.errors import NotFoundError
from worker.observability.logs import captured_logs


class Platform:
    """A fake IMS and Flow Service: counts token requests, knows flow ``f1`` only."""

    def __init__(self) -> None:
        self.tokens = 0
        self.threads: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer a token request or a flow lookup."""
        self.threads.add(threading.current_thread().name)
        if request.url.path == "/ims/token/v3":
            self.tokens += 1
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if request.url.path.endswith("/flows/f1"):
            return httpx.Response(200, json={"items": [{"id": "f1"}]})
        return httpx.Response(404, json={"title": "Resource not found", "detail": "no such flow"})


def test_threads_call_the_same_operations_and_share_one_token_and_loop() -> None:
    platform = Platform()
    with mock_blocking_client(platform) as client, ThreadPoolExecutor(16) as pool:
        flows = list(pool.map(lambda _: client.get_flow(None, "f1"), range(64)))
    assert flows == [{"id": "f1"}] * 64
    assert platform.tokens == 1
    assert platform.threads == {"platform-loop"}  # every request ran in the bridge's loop


def test_errors_reach_the_calling_thread_as_they_are() -> None:
    with mock_blocking_client(Platform()) as client, pytest.raises(NotFoundError, match="no such"):
        client.get_flow(None, "f2")


def test_each_call_runs_in_the_callers_logging_context() -> None:
    with mock_blocking_client(Platform()) as client, captured_logs("debug") as logs:
        structlog.contextvars.bind_contextvars(request_id="crm-42")
        try:
            client.get_flow(None, "f1")
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
    requests = [entry for entry in logs() if entry["event"] == "platform_request"]
    assert requests
    assert {entry.get("request_id") for entry in requests} == {"crm-42"}


def test_a_closed_bridge_refuses_calls_and_closing_twice_is_harmless() -> None:
    client = mock_blocking_client(Platform())
    client.close()
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.get_flow(None, "f1")

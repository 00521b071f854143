"""Every fault the emulator injects maps to the right error class; tokens behave under load."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.testing import MARIADB_SPEC_ID, Emulator, running_emulator
from tests.integration.platform_support import client_for, no_secrets_logged
from worker.errors import AuthenticationError, OutcomeUnknownError, PlatformError, RetryableError
from worker.platform import PlatformClient
from worker.platform.http import build_http_client

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TOKEN_PATH = "/ims/token/v3"


def token_requests(emu: Emulator) -> int:
    """How many token requests the emulator's IMS has seen."""
    return sum(1 for entry in emu.requests() if entry["path"] == TOKEN_PATH)


@pytest.fixture(autouse=True)
def no_secrets_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing the client logs during the test holds a credential."""
    with no_secrets_logged(caplog):
        yield


def source_body(base_connection_id: str) -> dict[str, Any]:
    """A minimal valid source connection body."""
    return {
        "name": "fault probe",
        "baseConnectionId": base_connection_id,
        "data": {"format": "tabular"},
        "params": {"tableName": "crm.t", "columns": []},
        "connectionSpec": {"id": MARIADB_SPEC_ID, "version": "1.0"},
    }


async def act(client: PlatformClient, action: str, base_connection_id: str) -> None:
    """Read (list by name), read twice in a row, or create a source connection."""
    if action == "create":
        await client.create_source_connection(None, source_body(base_connection_id))
        return
    for _ in range(2 if action == "read twice" else 1):
        await client.find_source_connection(None, "fault probe")


FAULTS = [
    # id, fault settings, action, error class, status, Retry-After seconds
    ("503", {"errors": {"503": 1.0}}, "read", RetryableError, 503, None),
    ("500", {"errors": {"500": 1.0}}, "read", RetryableError, 500, None),
    ("503-on-create", {"errors": {"503": 1.0}}, "create", RetryableError, 503, None),
    (
        "429-retry-after",
        {"throttle": {"rate": 1.0, "retry_after_s": 2}},
        "read",
        RetryableError,
        429,
        2.0,
    ),
    (
        "429-no-retry-after",
        {"throttle": {"rate": 1.0, "retry_after_s": None}},
        "read",
        RetryableError,
        429,
        None,
    ),
    ("rate-limit", {"rate_limit_rps": 0.01}, "read twice", RetryableError, 429, 100.0),
    ("commit-then-drop", {"commit_then_drop": 1.0}, "create", OutcomeUnknownError, None, None),
    ("latency-on-read", {"latency_ms": 1000}, "read", RetryableError, None, None),
    ("latency-on-create", {"latency_ms": 1000}, "create", OutcomeUnknownError, None, None),
]


@pytest.mark.parametrize(
    ("faults", "action", "error_class", "status", "retry_after"),
    [pytest.param(*case[1:], id=case[0]) for case in FAULTS],
)
async def test_each_emulator_fault_maps_to_its_error_class(
    faults: dict[str, Any],
    action: str,
    error_class: type[PlatformError],
    status: int | None,
    retry_after: float | None,
) -> None:
    with running_emulator() as emu:
        base = emu.create_base_connection(MARIADB_SPEC_ID)
        emu.set_faults(faults)
        async with client_for(emu, http_timeout_seconds=0.3) as client:
            with pytest.raises(error_class) as caught:
                await act(client, action, base)
        error = caught.value
        assert type(error) is error_class
        assert error.retryable
        assert error.status == status
        assert getattr(error, "retry_after_seconds", None) == retry_after
        emu.set_faults({})
        if error_class is OutcomeUnknownError:
            names = [item["name"] for item in emu.resources()["sourceConnections"]]
            assert names == ["fault probe"]  # the create landed although the answer was lost


async def test_bad_credentials_are_an_authentication_error() -> None:
    with running_emulator(clients={"emulator-test-client": "emulator-test-secret"}) as emu:
        async with client_for(emu, secret="wrong-secret") as client:
            with pytest.raises(AuthenticationError) as caught:
                await client.find_flow(None, "anything")
    assert caught.value.api == "ims"
    assert caught.value.code == "invalid_client"


async def test_a_hundred_concurrent_calls_on_a_fresh_client_cause_one_token_request() -> None:
    with running_emulator() as emu:
        async with client_for(emu) as client:
            results = await asyncio.gather(*(client.find_flow(None, "nothing") for _ in range(100)))
        assert results == [None] * 100
        assert token_requests(emu) == 1


async def test_an_expired_token_is_renewed_without_a_failed_call() -> None:
    frozen = time.monotonic()  # the client never sees its token age: only the 401 tells it
    with running_emulator(token_ttl=1) as emu:
        async with client_for(emu, clock=lambda: frozen) as client:
            assert await client.find_flow(None, "nothing") is None
            await asyncio.sleep(1.05)  # the emulator's token lifetime is one second
            assert await client.find_flow(None, "nothing") is None
        assert token_requests(emu) == 2


class RefusingTransport(httpx.AsyncBaseTransport):
    """The real transport, except that the Platform gets a token it does not know."""

    def __init__(self) -> None:
        self._real = build_http_client(timeout_seconds=10, pool_size=4)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through the real pool, with the refused token on Platform calls."""
        if request.url.path != TOKEN_PATH:
            request.headers["Authorization"] = "Bearer revoked"
        response = await self._real.send(request)
        await response.aread()
        return response

    async def aclose(self) -> None:
        """Close the real pool."""
        await self._real.aclose()


async def test_a_401_leads_to_one_renewal_and_then_an_authentication_error() -> None:
    with running_emulator() as emu:
        async with client_for(emu, http=RefusingTransport()) as client:
            with pytest.raises(AuthenticationError, match="fresh token") as caught:
                await client.find_flow(None, "nothing")
        assert caught.value.status == 401
        assert caught.value.code == "401013"
        assert token_requests(emu) == 2

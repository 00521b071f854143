"""IMS tokens: one per process, fetched single-flight, renewed before expiry and once on a 401."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.unit.platform_fakes import Handler, mock_client
from worker.config import load_settings
from worker.errors import AuthenticationError, ConfigurationError, RetryableError
from worker.platform import PlatformClient, open_platform_client
from worker.platform.auth import Credentials, renew_at

pytestmark = pytest.mark.anyio


class FakeIms:
    """Counts token requests and hands out `t1`, `t2`, ... (or the given answer)."""

    def __init__(self, answer: httpx.Response | None = None, delay: float = 0.0) -> None:
        self.requests = 0
        self.seen: list[httpx.Request] = []
        self.answer = answer
        self.delay = delay

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one token request."""
        self.requests += 1
        self.seen.append(request)
        number = self.requests
        if self.delay:
            await asyncio.sleep(self.delay)  # hold the first caller so the others pile up
        if self.answer is not None:
            return self.answer
        return httpx.Response(200, json={"access_token": f"t{number}", "expires_in": 3600})


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """The current time."""
        return self.now


def make_client(ims: FakeIms, platform: Handler, clock: Clock | None = None) -> PlatformClient:
    """A client whose IMS and Platform are the given fakes."""

    async def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/ims/token/v3":
            return await ims(request)
        answer = platform(request)
        assert isinstance(answer, httpx.Response)
        return answer

    return mock_client(route, clock=clock or time.monotonic)


def ok(request: httpx.Request) -> httpx.Response:
    """A Flow Service answer with one flow."""
    return httpx.Response(200, json={"items": [{"id": "f1", "name": "x"}]})


def accepts(*tokens: str) -> Handler:
    """A Platform that accepts only these tokens and answers 401 to any other."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"].removeprefix("Bearer ") in tokens:
            return ok(request)
        return httpx.Response(
            401, json={"error_code": "401013", "message": "Oauth token is not valid"}
        )

    return handler


async def test_a_hundred_concurrent_calls_on_a_fresh_client_ask_ims_once() -> None:
    ims = FakeIms(delay=0.05)
    async with make_client(ims, ok) as client:
        flows = await asyncio.gather(*(client.get_flow(None, "f1") for _ in range(100)))
    assert ims.requests == 1
    assert all(flow["id"] == "f1" for flow in flows)


async def test_the_token_request_is_a_client_credentials_form() -> None:
    ims = FakeIms()
    async with make_client(ims, ok) as client:
        await client.get_flow(None, "f1")
    request = ims.seen[0]
    assert request.method == "POST"
    assert request.url == "https://ims.test/ims/token/v3"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(httpx.QueryParams(request.content.decode())) == {
        "grant_type": "client_credentials",
        "client_id": "id-1",
        "client_secret": "shh-secret",
        "scope": load_settings({}).scopes,
    }


async def test_the_token_is_renewed_before_it_expires() -> None:
    ims, clock = FakeIms(), Clock()
    async with make_client(ims, ok, clock) as client:
        await client.get_flow(None, "f1")
        clock.now += 3600 - 300 - 1
        await client.get_flow(None, "f1")
        assert ims.requests == 1
        clock.now += 2
        await client.get_flow(None, "f1")
    assert ims.requests == 2


@pytest.mark.parametrize(
    ("issued", "expires_in", "expected"),
    [(0.0, 86399.0, 86099.0), (100.0, 3600.0, 3400.0), (0.0, 60.0, 54.0), (0.0, 0.0, 0.0)],
)
def test_renewal_comes_a_margin_before_expiry(
    issued: float, expires_in: float, expected: float
) -> None:
    assert renew_at(issued, expires_in) == expected


async def test_a_401_renews_the_token_once_and_the_call_succeeds() -> None:
    ims = FakeIms()
    async with make_client(ims, accepts("t2")) as client:
        assert (await client.get_flow(None, "f1"))["id"] == "f1"
    assert ims.requests == 2


async def test_concurrent_401s_share_one_renewal() -> None:
    ims = FakeIms()
    async with make_client(ims, accepts("t2")) as client:
        await asyncio.gather(*(client.get_flow(None, "f1") for _ in range(20)))
    assert ims.requests == 2


async def test_a_401_after_a_fresh_token_is_an_authentication_error() -> None:
    ims = FakeIms()
    async with make_client(ims, accepts()) as client:
        with pytest.raises(AuthenticationError, match="fresh token") as caught:
            await client.get_flow(None, "f1")
    assert ims.requests == 2
    assert caught.value.code == "401013"
    assert not caught.value.retryable


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json={"error": "invalid_client", "error_description": "bad id"}),
        httpx.Response(401, json={"error": "invalid_client", "error_description": "bad secret"}),
        httpx.Response(400, json={"error": "invalid_scope"}),
    ],
)
async def test_ims_refusing_the_credentials_is_an_authentication_error(
    answer: httpx.Response,
) -> None:
    async with make_client(FakeIms(answer), ok) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.get_flow(None, "f1")
    assert caught.value.api == "ims"
    assert "shh-secret" not in str(caught.value)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, json={}),
        httpx.Response(504, json={}),
        httpx.Response(500, text="oops"),
        httpx.Response(429, headers={"Retry-After": "4"}, json={}),
        httpx.Response(200, json={"nothing": "here"}),
    ],
)
async def test_ims_trouble_is_retryable(answer: httpx.Response) -> None:
    async with make_client(FakeIms(answer), ok) as client:
        with pytest.raises(RetryableError) as caught:
            await client.get_flow(None, "f1")
    assert type(caught.value) is RetryableError  # a token request may always be repeated
    assert caught.value.api == "ims"


def test_credentials_never_show_the_secret() -> None:
    credentials = Credentials(client_id="id", client_secret="shh-secret", scopes="s", org_id="o")
    assert "shh-secret" not in repr(credentials)


def test_a_client_without_credentials_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        open_platform_client(load_settings({}))

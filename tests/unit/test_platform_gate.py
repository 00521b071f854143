"""Tests of the gate Platform calls pass: FIFO waiters, the pause, cancellation, closing."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.unit.platform_fakes import mock_client
from worker.core.limiter import LimiterConfig
from worker.errors import RetryableError
from worker.observability.metrics import Metrics
from worker.platform.gate import Gate

pytestmark = pytest.mark.anyio


class FakeClock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _gate(limit: int = 2) -> tuple[Gate, FakeClock]:
    clock = FakeClock()
    return Gate(LimiterConfig(max_limit=8, initial=limit), clock=clock), clock


async def test_waiters_are_let_through_in_their_order_of_arrival() -> None:
    gate, _ = _gate(limit=1)
    first = await gate.enter()
    order: list[int] = []

    async def call(n: int) -> None:
        await gate.enter()
        order.append(n)

    tasks = [asyncio.create_task(call(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert order == []
    for _ in range(3):
        gate.leave(first, 0.05, 200, None)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]


async def test_a_429_pauses_every_call_until_its_retry_after_ends() -> None:
    gate, clock = _gate(limit=4)
    sent = await gate.enter()
    gate.leave(sent, 0.001, 429, 0.05)
    waiting = asyncio.create_task(gate.enter())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # the limit has room, but the worker is paused
    clock.now += 0.05
    await asyncio.wait_for(waiting, 5)  # the timer woke it when the pause ended
    assert gate.in_flight == 1


async def test_a_cancelled_wait_gives_up_its_place_and_takes_no_slot() -> None:
    gate, _ = _gate(limit=1)
    sent = await gate.enter()
    abandoned = asyncio.create_task(gate.enter())
    after = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    abandoned.cancel()
    await asyncio.sleep(0)
    gate.leave(sent, 0.05, 200, None)
    await asyncio.wait_for(after, 5)
    assert gate.in_flight == 1


async def test_closing_wakes_every_waiter_with_a_retryable_error() -> None:
    gate, _ = _gate(limit=1)
    await gate.enter()
    waiting = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    gate.close()
    with pytest.raises(RetryableError, match="not sent"):
        await waiting
    with pytest.raises(RetryableError):
        await gate.enter()


async def test_the_client_reports_its_limit_after_a_429_and_frees_every_slot() -> None:
    throttled = {"left": 1}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/ims/"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 86400})
        if throttled["left"]:
            throttled["left"] -= 1
            return httpx.Response(429, headers={"Retry-After": "0"}, json={})
        return httpx.Response(200, json={"items": []})

    metrics = Metrics(CollectorRegistry())
    async with mock_client(answer, metrics=metrics) as client:
        with pytest.raises(RetryableError):
            await client.probe()
        await client.probe()
    registry = metrics.registry
    assert registry.get_sample_value("dataflow_platform_calls_in_flight") == 0
    # the limit starts at the worker's concurrency (16 by default); the 429 halved it
    assert registry.get_sample_value("dataflow_platform_concurrency_limit") == 8
    assert registry.get_sample_value("dataflow_platform_paused_seconds_total") == 0


async def test_token_calls_are_not_gated_but_platform_calls_are() -> None:
    metrics = Metrics(CollectorRegistry())
    seen: dict[str, float | None] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        in_flight = metrics.registry.get_sample_value("dataflow_platform_calls_in_flight")
        if request.url.path.startswith("/ims/"):
            seen["ims"] = in_flight
            return httpx.Response(200, json={"access_token": "t", "expires_in": 86400})
        seen["platform"] = in_flight
        return httpx.Response(200, json={"items": []})

    async with mock_client(answer, metrics=metrics) as client:
        await client.probe()
    assert seen == {"ims": 0, "platform": 1}

"""The lookup cache: each key looked up once, single-flight; a failed lookup is not kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from worker.platform.cache import LookupCache

pytestmark = pytest.mark.anyio


async def test_each_key_is_looked_up_once() -> None:
    cache: LookupCache[str, str] = LookupCache()
    calls: list[str] = []

    def upper(key: str) -> Callable[[], Awaitable[str]]:
        async def look_up() -> str:
            calls.append(key)
            return key.upper()

        return look_up

    answers = [await cache.get(key, upper(key)) for key in ("dev", "prod", "dev")]
    assert answers == ["DEV", "PROD", "DEV"]
    assert calls == ["dev", "prod"]


async def test_callers_that_miss_together_share_one_lookup() -> None:
    cache: LookupCache[str, str] = LookupCache()
    release = asyncio.Event()
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "tenant"

    waiting = [asyncio.ensure_future(cache.get("dev", slow)) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["tenant"] * 10
    assert calls == 1


async def test_a_failed_lookup_is_tried_again_next_time() -> None:
    cache: LookupCache[str, str] = LookupCache()

    async def fail() -> str:
        raise RuntimeError("platform down")

    async def succeed() -> str:
        return "tenant"

    with pytest.raises(RuntimeError):
        await cache.get("dev", fail)
    assert await cache.get("dev", succeed) == "tenant"


async def test_a_cancelled_caller_does_not_cancel_the_lookup_others_share() -> None:
    cache: LookupCache[str, str] = LookupCache()
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "tenant"

    first = asyncio.ensure_future(cache.get("dev", slow))
    second = asyncio.ensure_future(cache.get("dev", slow))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == "tenant"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_kept_answers_only_what_a_lookup_returned() -> None:
    cache: LookupCache[str, str] = LookupCache()

    async def fails() -> str:
        raise RuntimeError("down")

    async def answers() -> str:
        return "spec"

    assert cache.kept("prod") is None
    with pytest.raises(RuntimeError):
        await cache.get("prod", fails)
    assert cache.kept("prod") is None
    await cache.get("prod", answers)
    assert cache.kept("prod") == "spec"

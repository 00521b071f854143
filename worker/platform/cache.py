"""Answers the Platform never changes for a key (a sandbox's tenant id, a flow spec), kept once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LookupCache(Generic[K, V]):
    """Looks each key up once per client, single-flight: callers that miss together share one.

    A failed lookup is not kept: every caller that shared it gets the error, and the next call
    looks up again. A caller that is cancelled does not cancel the shared lookup.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._values: dict[K, V] = {}
        self._pending: dict[K, asyncio.Future[V]] = {}

    def kept(self, key: K) -> V | None:
        """The kept answer for ``key``, or None when it was never looked up (or it failed)."""
        return self._values.get(key)

    async def get(self, key: K, look_up: Callable[[], Awaitable[V]]) -> V:
        """The kept answer for ``key``, or ``await look_up()`` kept for next time."""
        if key in self._values:
            return self._values[key]
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(self._fill(key, look_up))
            pending.add_done_callback(_retrieve)  # a failure nobody awaits any more is not "lost"
        return await asyncio.shield(pending)

    async def _fill(self, key: K, look_up: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await look_up()
        finally:
            del self._pending[key]
        self._values[key] = value
        return value


def _retrieve(future: asyncio.Future[V]) -> None:
    if not future.cancelled():
        future.exception()

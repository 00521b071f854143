"""TEMPORARY: the sync Platform client behind async methods (until the async client lands)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any


class ThreadedPlatform:
    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call

    async def aclose(self) -> None:
        self._client.close()

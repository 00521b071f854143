"""The worker's background duties on its event loop: the circuit's probe, pruning, a warm cache.

While the circuit breaker is open the broker link stops consuming and a probe asks the Platform
(a token and one uncached read) every 1 to 30 s; when it answers, the circuit closes and the
link consumes again. Every hour, ledger records finished longer ago than
``DATAFLOW_PRUNE_AFTER_DAYS`` are deleted. At start, the flow spec is looked up once, so that the
first request does not wait for it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import structlog

from worker.config import Settings
from worker.engine.breaker import Breaker
from worker.errors import DataflowError, LedgerError
from worker.ledger import Ledger
from worker.platform import PlatformClient

log = structlog.get_logger()

PROBE_FIRST_SECONDS = 1.0
PROBE_MAX_SECONDS = 30.0
PRUNE_EVERY_SECONDS = 3600.0
WARM_UP_WAIT_SECONDS = 3.0  # the most the start waits for the warm-up (a slow Platform: no more)


def prune_finished(ledger: Ledger, settings: Settings) -> int:
    """Delete finished records older than ``DATAFLOW_PRUNE_AFTER_DAYS``; a failure is logged."""
    older_than = time.time() - settings.prune_after_days * 86400
    try:
        removed = ledger.prune(older_than)
    except LedgerError as error:
        log.warning("ledger_prune_failed", error=str(error))
        return 0
    if removed:
        log.info("ledger_pruned", removed=removed)
    return removed


class Consuming(Protocol):
    """What upkeep needs of the broker link."""

    def pause(self) -> None:
        """Stop taking deliveries."""

    def resume(self) -> None:
        """Take deliveries again."""


class Upkeep:
    """Runs the probe, the pruning and the warm-up as tasks of the worker's event loop."""

    def __init__(
        self,
        settings: Settings,
        platform: PlatformClient,
        ledger: Ledger,
        breaker: Breaker,
        link: Consuming,
    ) -> None:
        self._settings = settings
        self._platform = platform
        self._ledger = ledger
        self._breaker = breaker
        self._link = link
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the background tasks; wait a moment for the warm-up, so that the first
        requests find the flow spec known (a Platform that answers slowly or not at all delays
        the start by ``WARM_UP_WAIT_SECONDS`` at most)."""
        loop = asyncio.get_running_loop()
        warm_up = loop.create_task(self._warm_up())
        self._tasks = [
            loop.create_task(self._probe_loop()),
            loop.create_task(self._prune_loop()),
            warm_up,
        ]
        await asyncio.wait({warm_up}, timeout=WARM_UP_WAIT_SECONDS)

    async def stop(self) -> None:
        """Cancel the background tasks."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def circuit_changed(self, is_open: bool) -> None:
        """The breaker opened (stop consuming, start probing) or closed (consume again)."""
        if is_open:
            self._link.pause()
            self._wake.set()
        else:
            self._link.resume()

    async def _probe_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = PROBE_FIRST_SECONDS
            while self._breaker.is_open:
                await asyncio.sleep(wait)
                if await self._probe():
                    self._breaker.close()
                wait = min(wait * 2, PROBE_MAX_SECONDS)

    async def _probe(self) -> bool:
        """A token fetch and one uncached Platform read: does the Platform answer us again?"""
        try:
            await self._platform.probe(self._settings.sandbox)
        except DataflowError as error:
            log.info("probe_failed", error=str(error))
            return False
        return True

    async def _prune_loop(self) -> None:
        while True:
            await self.prune_finished()
            await asyncio.sleep(PRUNE_EVERY_SECONDS)

    async def prune_finished(self) -> int:
        """Delete finished records older than the configured age (in a helper thread)."""
        return await asyncio.to_thread(prune_finished, self._ledger, self._settings)

    async def _warm_up(self) -> None:
        """Fetch a token and the default flow spec once, so the first request need not."""
        try:
            await self._platform.flow_spec(self._settings.sandbox, "CRMToAEP")
        except DataflowError as error:
            log.info("warm_up_failed", error=str(error))

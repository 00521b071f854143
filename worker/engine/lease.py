"""A request's lease, renewed while the request runs, so a killed worker's requests are taken
over within seconds (docs/adr/0005): every third of its length; a renewal that finds the lease
taken over, or a ledger unreachable for a whole lease, interrupts the request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from worker.core.changes import RenewLease
from worker.core.effects import Interrupted
from worker.engine.tools import Tools
from worker.errors import LeaseLostError, LedgerError

log = structlog.get_logger()


class LeaseKeeper:
    """Renews a request's lease every third of its length while the request runs."""

    def __init__(
        self,
        tools: Tools,
        request_id: str,
        fence: int,
        seconds: float,
        on_lost: Callable[[Interrupted], None],
        lock: asyncio.Lock,
    ) -> None:
        self._tools = tools
        self._request_id = request_id
        self._fence = fence
        self._seconds = seconds
        self._on_lost = on_lost
        self._lock = lock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin renewing."""
        self._task = asyncio.get_running_loop().create_task(self._keep())

    def stop(self) -> None:
        """Stop renewing (the request settled, or released its lease); forget the request."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._on_lost = _forgotten  # no reference cycle keeps the request's objects alive

    async def _keep(self) -> None:
        clock, ledger = self._tools.clock, self._tools.ledger
        renewed = clock()
        while True:
            await asyncio.sleep(self._seconds / 3)
            try:
                async with self._lock:
                    await ledger.aapply(self._request_id, self._fence, [RenewLease(self._seconds)])
                renewed = clock()
            except LeaseLostError:
                self._on_lost(Interrupted("lease_lost", clock()))
                return
            except LedgerError as error:
                log.warning("lease_not_renewed", error=str(error))
                if clock() - renewed >= self._seconds:  # it ran out: another worker may take over
                    self._on_lost(Interrupted("ledger", clock()))
                    return


def _forgotten(_: Interrupted) -> None:
    """What a stopped keeper reports to: nobody."""

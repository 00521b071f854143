"""The ledger interface: claim a request, apply fenced changes, read; sync and async alike.

Times are epoch seconds (floats). Every operation that depends on the time takes ``now``; when it
is left out the ledger reads its own clock (injectable at construction, for tests).

A record and its changes are the pure values of :mod:`worker.core.record` and
:mod:`worker.core.changes`. Fenced writes carry the token that ``claim`` returned; once another
worker has taken the lease over, the token is stale and the write raises
:class:`~worker.errors.LeaseLostError`.

Every operation is available twice: as a blocking call (the commands, the tests) and as a
coroutine (``a``-prefixed, for the engine's event loop); both run the same work on the variant's
own threads (SQLite's single writer, PostgreSQL's pool), so the event loop never blocks on I/O.
"""

from __future__ import annotations

import abc
import asyncio
import builtins
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

from worker.core.changes import Change
from worker.core.record import (
    FINISHED,
    PRUNABLE,
    Claim,
    ClaimOutcome,
    RequestRecord,
    RequestStatus,
    StepOutcome,
    StepRecord,
    StepState,
)
from worker.errors import LedgerError

T = TypeVar("T")

Statuses = Collection[RequestStatus]
"""A choice of statuses; empty: all of them."""

PAGE_SIZE = 500
"""Records per read when a command walks the whole ledger (``audit``, ``onboard --prune``)."""

__all__ = [
    "FINISHED",
    "PAGE_SIZE",
    "PRUNABLE",
    "Claim",
    "ClaimOutcome",
    "Ledger",
    "LedgerStateError",
    "RequestRecord",
    "RequestStatus",
    "Statuses",
    "StepOutcome",
    "StepRecord",
    "StepState",
    "UnknownRequestError",
]


class UnknownRequestError(LedgerError):
    """The ledger holds no record for this request id."""

    retryable = False


class LedgerStateError(LedgerError):
    """The operation does not apply to the record in its current status."""

    retryable = False


async def _awaited(future: Future[T]) -> T:
    return await asyncio.wrap_future(future)


class Ledger(abc.ABC):
    """The durable step ledger; thread-safe, and usable from one event loop too."""

    # -- the operations, as futures (each variant runs them on its own threads) ----------

    @abc.abstractmethod
    def claim_future(
        self,
        request_id: str,
        content_hash: str,
        request_json: str,
        event_id: str,
        owner: str,
        lease_seconds: float,
        now: float | None = None,
        intents: Sequence[tuple[str, str | None]] = (),
        *,
        revision: int = 1,
    ) -> Future[Claim]:
        """Atomically create or look at the record and take its lease when it can run now.

        New request: inserted, ``acquired``. Otherwise :func:`worker.core.claims.decide_request`
        decides: a duplicate (``finished``), a ``conflict`` (nothing changes), ``busy`` (another
        lease, or a previous command still running), ``superseded``, or ``acquired``: the lease
        taken (fence + 1), the delivery counted, a higher revision's content stored. When
        acquired, the ``intents`` of steps that never started are written too.
        """

    @abc.abstractmethod
    def claim_deletion_future(
        self,
        request_id: str,
        event_id: str,
        reason: str | None,
        owner: str,
        lease_seconds: float,
        now: float | None = None,
    ) -> Future[Claim]:
        """Claim a record for its deletion (:func:`worker.core.claims.decide_deletion`).

        ``unknown`` for a request the ledger never saw; ``finished`` once deleted; ``busy``
        while another command holds it; else ``acquired`` with the operation ``delete``.
        """

    @abc.abstractmethod
    def apply_future(
        self,
        request_id: str,
        fence: int,
        changes: Sequence[Change],
        now: float | None = None,
    ) -> Future[RequestRecord]:
        """Apply ``changes`` in order to the leased record, in one write; the record after."""

    @abc.abstractmethod
    def record_run_future(
        self, request_id: str, run: Mapping[str, Any], now: float | None = None
    ) -> Future[None]:
        """Append a followed flow run (``DataflowRunCompleted`` data); not fenced."""

    @abc.abstractmethod
    def get_future(self, request_id: str) -> Future[RequestRecord | None]:
        """The record of ``request_id``, or ``None``."""

    # -- blocking -------------------------------------------------------------------------

    def claim(
        self,
        request_id: str,
        content_hash: str,
        request_json: str,
        event_id: str,
        owner: str,
        lease_seconds: float,
        now: float | None = None,
        intents: Sequence[tuple[str, str | None]] = (),
        *,
        revision: int = 1,
    ) -> Claim:
        """See :meth:`claim_future`."""
        return self.claim_future(
            request_id,
            content_hash,
            request_json,
            event_id,
            owner,
            lease_seconds,
            now,
            intents,
            revision=revision,
        ).result()

    def claim_deletion(
        self,
        request_id: str,
        event_id: str,
        reason: str | None,
        owner: str,
        lease_seconds: float,
        now: float | None = None,
    ) -> Claim:
        """See :meth:`claim_deletion_future`."""
        return self.claim_deletion_future(
            request_id, event_id, reason, owner, lease_seconds, now
        ).result()

    def apply(
        self,
        request_id: str,
        fence: int,
        changes: Sequence[Change],
        now: float | None = None,
    ) -> RequestRecord:
        """See :meth:`apply_future`."""
        return self.apply_future(request_id, fence, changes, now).result()

    def record_run(
        self, request_id: str, run: Mapping[str, Any], *, now: float | None = None
    ) -> None:
        """See :meth:`record_run_future`."""
        self.record_run_future(request_id, run, now).result()

    def get(self, request_id: str) -> RequestRecord | None:
        """See :meth:`get_future`."""
        return self.get_future(request_id).result()

    # -- for the event loop ---------------------------------------------------------------

    async def aclaim(
        self,
        request_id: str,
        content_hash: str,
        request_json: str,
        event_id: str,
        owner: str,
        lease_seconds: float,
        now: float | None = None,
        intents: Sequence[tuple[str, str | None]] = (),
        *,
        revision: int = 1,
    ) -> Claim:
        """See :meth:`claim_future`."""
        return await _awaited(
            self.claim_future(
                request_id,
                content_hash,
                request_json,
                event_id,
                owner,
                lease_seconds,
                now,
                intents,
                revision=revision,
            )
        )

    async def aclaim_deletion(
        self,
        request_id: str,
        event_id: str,
        reason: str | None,
        owner: str,
        lease_seconds: float,
        now: float | None = None,
    ) -> Claim:
        """See :meth:`claim_deletion_future`."""
        return await _awaited(
            self.claim_deletion_future(request_id, event_id, reason, owner, lease_seconds, now)
        )

    async def aapply(
        self,
        request_id: str,
        fence: int,
        changes: Sequence[Change],
        now: float | None = None,
    ) -> RequestRecord:
        """See :meth:`apply_future`."""
        return await _awaited(self.apply_future(request_id, fence, changes, now))

    async def arecord_run(
        self, request_id: str, run: Mapping[str, Any], now: float | None = None
    ) -> None:
        """See :meth:`record_run_future`."""
        await _awaited(self.record_run_future(request_id, run, now))

    async def aget(self, request_id: str) -> RequestRecord | None:
        """See :meth:`get_future`."""
        return await _awaited(self.get_future(request_id))

    # -- housekeeping and commands (blocking) ---------------------------------------------

    @abc.abstractmethod
    def summary(self) -> dict[str, int]:
        """How many records are in each status (statuses without records are left out)."""

    @abc.abstractmethod
    def list(
        self, status: RequestStatus | None = None, limit: int = 100
    ) -> builtins.list[RequestRecord]:
        """Records, most recently updated first, optionally only those in ``status``."""

    @abc.abstractmethod
    def page(
        self, after: str | None = None, limit: int = PAGE_SIZE, statuses: Statuses = ()
    ) -> builtins.list[RequestRecord]:
        """Up to ``limit`` records in request id order, those after ``after`` (all when None);
        only those in ``statuses`` when any are given."""

    def records(
        self, statuses: Statuses = (), page_size: int = PAGE_SIZE
    ) -> Iterator[RequestRecord]:
        """Every record (in ``statuses`` when given) in request id order, a page per read.

        Each page is a read of its own: a ledger of any size is walked in bounded memory, and
        records written meanwhile are seen once or not at all, never twice.
        """
        after: str | None = None
        while True:
            found = self.page(after, page_size, statuses)
            yield from found
            if len(found) < page_size:
                return
            after = found[-1].request_id

    @abc.abstractmethod
    def reopen_for_replay(self, request_id: str, *, now: float | None = None) -> RequestRecord:
        """Turn a failed request back to ``pending`` so ``dlq replay`` re-drives it.

        Failed steps, and steps a rollback deleted, go back to pending; done steps are kept
        (what they created is reused); the terminal event is cleared so the re-driven request
        ends in a new one. Raises ``UnknownRequestError`` or ``LedgerStateError`` (not failed).
        """

    @abc.abstractmethod
    def prune(self, older_than: float) -> int:
        """Delete failed and deleted records finished before ``older_than``; return how many.

        Records of dataflows that exist (created, updated) are kept whatever their age: a later
        revision or deletion of the dataflow needs them.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Finish queued work and close every connection; the ledger cannot be used afterwards."""

    def __enter__(self) -> Self:
        """Use the ledger as a context manager that closes it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the ledger."""
        self.close()

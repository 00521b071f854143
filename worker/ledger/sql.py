"""Every ledger operation as short SQL transactions, shared by the SQLite and PostgreSQL variants.

Each operation is one transaction: load the row (locked), apply the pure changes of
:mod:`worker.core.changes`, write the changed columns. A variant supplies connections,
transactions, row locking and the translation of its driver's errors.

Fast path: while a worker holds a lease, nobody else writes the record (a takeover bumps the
fence first), so the ledger keeps the records whose leases it handed out and writes them with one
``UPDATE ... WHERE fence = ?`` statement, no read; zero rows updated means the lease was lost.

Every operation is a function of a cursor handed to :meth:`SqlLedger._submit` as a write (one
transaction), a single statement (its own transaction) or a read; a variant decides where and how
to run it and returns a future (SQLite commits the writes of many callers together, in a writer
thread or at the end of an event loop's round; PostgreSQL runs each on a pooled connection in a
thread of its own).
"""

# ruff: noqa: S608  -- statements are built only from this package's constant table and column
# names; every value is bound as a parameter.

from __future__ import annotations

import abc
import asyncio
import builtins
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from worker.core import changes as transitions
from worker.core import claims
from worker.core.changes import Change, apply_all
from worker.errors import LeaseLostError
from worker.ledger.base import (
    PAGE_SIZE,
    PRUNABLE,
    Claim,
    Ledger,
    LedgerStateError,
    RequestRecord,
    RequestStatus,
    Statuses,
    UnknownRequestError,
)
from worker.ledger.cursor import Cursor
from worker.ledger.held import HeldLeases
from worker.ledger.rows import (
    COLUMNS,
    COMMAND_COLUMNS,
    MUTABLE_COLUMNS,
    STATE_COLUMNS,
    command_values,
    encode_runs,
    from_row,
    mutable_values,
    to_row,
)

Clock = Callable[[], float]
T = TypeVar("T")

_TABLE = "ledger_requests"
# Records whose dataflow may still exist are never pruned: a later revision or deletion needs them.
_PRUNABLE_SQL = ", ".join(f"'{status}'" for status in sorted(PRUNABLE))


@dataclass(frozen=True, slots=True)
class Op(Generic[T]):
    """One ledger operation for a variant to run: a function of a cursor, and how to run it."""

    work: Callable[[Cursor], T]
    write: bool
    single: bool = False
    then: Callable[[T], None] | None = None


class SqlLedger(Ledger):
    """The ledger over a SQL database; subclasses provide the transactions."""

    lock_clause: ClassVar[str] = ""
    """Appended to the SELECT that loads a row for a write (`` FOR UPDATE`` where it applies)."""

    def __init__(self, clock: Clock = time.time) -> None:
        """Prepare the statements; ``clock`` gives ``now`` when a caller leaves it out."""
        self._clock = clock
        marks = ", ".join("?" for _ in COLUMNS)
        assignments = ", ".join(f"{column} = ?" for column in MUTABLE_COLUMNS)
        self._insert_sql = (
            f"INSERT INTO {_TABLE} ({', '.join(COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT (request_id) DO NOTHING"
        )
        self._select_sql = f"SELECT {', '.join(COLUMNS)} FROM {_TABLE} WHERE request_id = ?"
        self._lock_sql = (
            f"SELECT {', '.join(STATE_COLUMNS)} FROM {_TABLE} WHERE request_id = ?"
            + self.lock_clause
        )
        self._lock_full_sql = self._select_sql + self.lock_clause
        self._update_sql = f"UPDATE {_TABLE} SET {assignments} WHERE request_id = ?"
        command = ", ".join(f"{column} = ?" for column in COMMAND_COLUMNS)
        self._command_sql = f"UPDATE {_TABLE} SET {command} WHERE request_id = ?"
        self._applied_sql = f"UPDATE {_TABLE} SET applied_json = request_json WHERE request_id = ?"
        self._fenced_update_sql = self._update_sql + " AND fence = ? AND lease_owner IS NOT NULL"
        self._runs_sql = f"UPDATE {_TABLE} SET runs = ?, updated_at = ? WHERE request_id = ?"
        self._held = HeldLeases()

    @abc.abstractmethod
    def _submit(self, op: Op[T]) -> Future[T]:
        """Run the operation (in a write transaction, or as a read); its future gets the result.

        ``op.single``: one statement, which needs no transaction of its own. ``op.then`` runs
        with the result once it is committed, before the future resolves. When ``op.work``
        raises, what it wrote is rolled back and the future holds the error.
        """

    def _submit_async(self, op: Op[T]) -> Awaitable[T]:
        """The same for the running event loop (a variant may resolve several at once)."""
        return asyncio.wrap_future(self._submit(op))

    def _run(self, work: Callable[[Cursor], T], *, write: bool, single: bool = False) -> T:
        return self._submit(Op(work, write, single)).result()

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    def _load(self, cursor: Cursor, request_id: str, *, full: bool = False) -> RequestRecord:
        cursor.execute(self._lock_full_sql if full else self._lock_sql, (request_id,))
        row = cursor.fetchone()
        if row is None:
            raise UnknownRequestError(f"no ledger record for request {request_id}")
        return from_row(row, COLUMNS if full else STATE_COLUMNS)

    def _update(self, cursor: Cursor, record: RequestRecord) -> None:
        cursor.execute(self._update_sql, (*mutable_values(record), record.request_id))

    def _hold(self, record: RequestRecord) -> None:
        # The content is never rewritten after the claim; holding it would only cost memory.
        self._held.put(transitions.replace(record, request_json=""))

    def apply_future(
        self,
        request_id: str,
        fence: int,
        changes: Sequence[Change],
        now: float | None = None,
    ) -> Future[RequestRecord]:
        """One write: the held record's fenced UPDATE, or a locked read-change-write."""
        return self._submit(self._apply_op(request_id, fence, changes, now))

    async def aapply(
        self,
        request_id: str,
        fence: int,
        changes: Sequence[Change],
        now: float | None = None,
    ) -> RequestRecord:
        """See :meth:`apply_future`."""
        return await self._submit_async(self._apply_op(request_id, fence, changes, now))

    def _apply_op(
        self, request_id: str, fence: int, changes: Sequence[Change], now: float | None
    ) -> Op[RequestRecord]:
        at = self._now(now)
        held = self._held.get(request_id, fence)
        if held is None:

            def load_and_update(cursor: Cursor) -> RequestRecord:
                record = self._load(cursor, request_id)
                if not transitions.fence_matches(record, fence):
                    raise _lease_lost(request_id, fence, record)
                changed = apply_all(record, changes, at)
                self._update(cursor, changed)
                self._copy_applied(cursor, record, changed)
                return changed

            return Op(load_and_update, write=True, then=self._held.put)
        changed = apply_all(held, changes, at)
        values = (*mutable_values(changed), request_id, fence)
        applies = _applies(held, changed)

        def update(cursor: Cursor) -> RequestRecord:
            cursor.execute(self._fenced_update_sql, values)
            if cursor.rowcount != 1:
                self._held.drop(request_id, fence)
                raise LeaseLostError(f"request {request_id}: lease lost (fence {fence})")
            if applies:
                cursor.execute(self._applied_sql, (request_id,))
            return changed

        return Op(update, write=True, single=not applies, then=self._held.put)

    def _copy_applied(self, cursor: Cursor, before: RequestRecord, after: RequestRecord) -> None:
        """A revision became the applied one: its content is copied in the database."""
        if _applies(before, after):
            cursor.execute(self._applied_sql, (after.request_id,))

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
        """Insert, or lock and decide, in one transaction (see :meth:`Ledger.claim_future`)."""
        command = _Command(request_id, content_hash, request_json, event_id, revision)
        lease = claims.Lease(owner, lease_seconds, self._now(now))
        return self._submit(self._claim_op(command, lease, intents))

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
        command = _Command(request_id, content_hash, request_json, event_id, revision)
        lease = claims.Lease(owner, lease_seconds, self._now(now))
        return await self._submit_async(self._claim_op(command, lease, intents))

    def _claim_op(
        self, command: _Command, lease: claims.Lease, intents: Sequence[tuple[str, str | None]]
    ) -> Op[Claim]:
        at = lease.now
        first = claims.new_record(
            command.request_id,
            command.content_hash,
            command.request_json,
            command.event_id,
            lease,
            command.revision,
        )
        fresh, started = claims.start_fresh(first, intents, at)
        row = to_row(fresh)

        def insert_or_decide(cursor: Cursor) -> Claim:
            cursor.execute(self._insert_sql, row)
            if cursor.rowcount == 1:
                return Claim("acquired", fresh, fresh.fence, started)
            record = self._load(cursor, command.request_id, full=True)
            claim = claims.decide_request(
                record,
                command.content_hash,
                command.request_json,
                command.revision,
                command.event_id,
                lease,
            )
            if claim.outcome != "acquired":
                return claim
            after, newly = claims.start_fresh(claim.record, intents, at)
            self._store_claim(cursor, record, after)
            return Claim("acquired", after, after.fence, newly)

        return Op(insert_or_decide, write=True, then=self._hold_claimed)

    def claim_deletion_future(
        self,
        request_id: str,
        event_id: str,
        reason: str | None,
        owner: str,
        lease_seconds: float,
        now: float | None = None,
    ) -> Future[Claim]:
        """Lock and decide in one transaction (see :meth:`Ledger.claim_deletion_future`)."""
        lease = claims.Lease(owner, lease_seconds, self._now(now))

        def decide(cursor: Cursor) -> Claim:
            cursor.execute(self._lock_full_sql, (request_id,))
            row = cursor.fetchone()
            record = None if row is None else from_row(row)
            claim = claims.decide_deletion(record, event_id, reason, lease)
            if claim is None:
                return Claim("unknown", _unknown(request_id, event_id, at=lease.now))
            if claim.outcome == "acquired":
                assert record is not None
                self._store_claim(cursor, record, claim.record)
            return claim

        return self._submit(Op(decide, write=True, then=self._hold_claimed))

    def _store_claim(self, cursor: Cursor, before: RequestRecord, after: RequestRecord) -> None:
        """Write a claim's record; a new command's content too."""
        self._update(cursor, after)
        if command_values(after) != command_values(before):
            cursor.execute(self._command_sql, (*command_values(after), after.request_id))

    def _hold_claimed(self, claim: Claim) -> None:
        if claim.fence is not None:
            self._hold(claim.record)

    def record_run_future(
        self, request_id: str, run: Mapping[str, Any], now: float | None = None
    ) -> Future[None]:
        """Append a followed run; not fenced, and the only write of the ``runs`` column."""
        at = self._now(now)

        def append(cursor: Cursor) -> None:
            record = transitions.with_run(self._load(cursor, request_id), run, at)
            cursor.execute(self._runs_sql, (encode_runs(record.runs), at, request_id))

        return self._submit(Op(append, write=True))

    def get_future(self, request_id: str) -> Future[RequestRecord | None]:
        """The record, or ``None``."""

        def select(cursor: Cursor) -> RequestRecord | None:
            cursor.execute(self._select_sql, (request_id,))
            row = cursor.fetchone()
            return None if row is None else from_row(row)

        return self._submit(Op(select, write=False))

    def reopen_for_replay(self, request_id: str, *, now: float | None = None) -> RequestRecord:
        """Make a failed request pending again, keeping what its done steps created."""
        at = self._now(now)

        def reopen(cursor: Cursor) -> RequestRecord:
            record = self._load(cursor, request_id, full=True)
            try:
                reopened = transitions.reopened(record, at)
            except ValueError as error:
                raise LedgerStateError(str(error)) from None
            self._update(cursor, reopened)
            return reopened

        return self._run(reopen, write=True)

    def summary(self) -> dict[str, int]:
        """Records per status."""

        def count(cursor: Cursor) -> dict[str, int]:
            cursor.execute(f"SELECT status, COUNT(*) FROM {_TABLE} GROUP BY status")
            return {str(status): int(count) for status, count in cursor.fetchall()}

        return self._run(count, write=False)

    def list(
        self, status: RequestStatus | None = None, limit: int = 100
    ) -> builtins.list[RequestRecord]:
        """Records, most recently updated first."""
        where, params = ("", (limit,)) if status is None else (" WHERE status = ?", (status, limit))
        return self._select(f"{where} ORDER BY updated_at DESC LIMIT ?", params)

    def page(
        self, after: str | None = None, limit: int = PAGE_SIZE, statuses: Statuses = ()
    ) -> builtins.list[RequestRecord]:
        """Records in request id order after ``after``: keyset paging on the primary key."""
        conditions = ["request_id > ?"] if after is not None else []
        if statuses:
            conditions.append(f"status IN ({', '.join('?' for _ in statuses)})")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        params = (*([after] if after is not None else []), *statuses, limit)
        return self._select(f"{where} ORDER BY request_id LIMIT ?", params)

    def _select(self, rest: str, params: Sequence[Any]) -> builtins.list[RequestRecord]:
        """The records ``SELECT * FROM ledger_requests<rest>`` reads."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM {_TABLE}{rest}"

        def select(cursor: Cursor) -> builtins.list[Any]:
            cursor.execute(sql, params)
            return cursor.fetchall()

        return [from_row(row) for row in self._run(select, write=False)]

    def prune(self, older_than: float) -> int:
        """Delete finished records older than the cutoff."""

        def delete(cursor: Cursor) -> int:
            cursor.execute(
                f"DELETE FROM {_TABLE} WHERE status IN ({_PRUNABLE_SQL}) AND finished_at < ?",
                (older_than,),
            )
            return int(cursor.rowcount)

        return self._run(delete, write=True)


@dataclass(frozen=True, slots=True)
class _Command:
    """A request as a claim receives it."""

    request_id: str
    content_hash: str
    request_json: str
    event_id: str
    revision: int


def _applies(before: RequestRecord, after: RequestRecord) -> bool:
    """True when a write makes the current revision the applied one."""
    return after.applied_revision != before.applied_revision


def _unknown(request_id: str, event_id: str, *, at: float) -> RequestRecord:
    """The stand-in record of a request the ledger never saw (a deletion of it is refused)."""
    return RequestRecord(request_id, "", "", event_id, "pending", at, at)


def _lease_lost(request_id: str, fence: int, record: RequestRecord) -> LeaseLostError:
    released = "" if record.lease_owner else ", released"
    return LeaseLostError(
        f"request {request_id}: lease lost (fence {fence}, ledger has {record.fence}{released})"
    )

"""Every ledger operation as short SQL transactions, shared by the SQLite and PostgreSQL variants.

Each operation is one transaction: load the row (locked), apply a pure transition from
:mod:`worker.ledger.transitions`, write the changed columns. A variant supplies connections,
transactions, row locking and the translation of its driver's errors.

Fast path: while a worker holds a lease, nobody else writes the record (a takeover bumps the
fence first), so the ledger keeps the records whose leases it handed out and writes them with one
``UPDATE ... WHERE fence = ?`` statement, no read; zero rows updated means the lease was lost.

Every operation is a function of a cursor handed to :meth:`SqlLedger._write` (one transaction),
:meth:`SqlLedger._statement` (one statement, its own transaction) or :meth:`SqlLedger._read`; a
variant decides how to run it (SQLite commits the writes of many threads together).
"""

# ruff: noqa: S608  -- statements are built only from this package's constant table and column
# names; every value is bound as a parameter.

from __future__ import annotations

import abc
import builtins
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, TypeVar

from worker.errors import LeaseLostError
from worker.ledger import transitions
from worker.ledger.base import (
    FINISHED,
    Claim,
    Ledger,
    RequestRecord,
    RequestStatus,
    StepOutcome,
    UnknownRequestError,
)
from worker.ledger.cursor import Cursor
from worker.ledger.rows import (
    COLUMNS,
    MUTABLE_COLUMNS,
    STATE_COLUMNS,
    encode_runs,
    from_row,
    mutable_values,
    to_row,
)

Clock = Callable[[], float]
Change = Callable[[RequestRecord], RequestRecord]
T = TypeVar("T")

_TABLE = "ledger_requests"
HELD_RECORDS = 1024  # far above any worker's concurrency; beyond it, writes read the row first
_FINISHED_SQL = ", ".join(f"'{status}'" for status in sorted(FINISHED))


class HeldLeases:
    """The records whose leases this ledger handed out, newest fence per request, bounded."""

    def __init__(self, size: int = HELD_RECORDS) -> None:
        """Keep at most ``size`` records (the least recently written are forgotten first)."""
        self._size = size
        self._records: OrderedDict[str, RequestRecord] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, request_id: str, fence: int) -> RequestRecord | None:
        """The held record of ``request_id`` if its fence is ``fence``."""
        with self._lock:
            record = self._records.get(request_id)
        return record if record is not None and record.fence == fence else None

    def put(self, record: RequestRecord) -> None:
        """Remember a record while its lease is held; forget it once released."""
        with self._lock:
            known = self._records.get(record.request_id)
            if known is not None and known.fence > record.fence:
                return  # a late write of a stale holder never hides the newer lease
            if record.lease_owner is None:
                self._records.pop(record.request_id, None)
                return
            self._records[record.request_id] = record
            self._records.move_to_end(record.request_id)
            while len(self._records) > self._size:
                self._records.popitem(last=False)

    def drop(self, request_id: str, fence: int) -> None:
        """Forget the record of ``request_id`` if it is still the one with ``fence``."""
        with self._lock:
            known = self._records.get(request_id)
            if known is not None and known.fence == fence:
                del self._records[request_id]


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
        self._fenced_update_sql = self._update_sql + " AND fence = ? AND lease_owner IS NOT NULL"
        self._runs_sql = f"UPDATE {_TABLE} SET runs = ?, updated_at = ? WHERE request_id = ?"
        self._held = HeldLeases()

    @abc.abstractmethod
    def _write(self, work: Callable[[Cursor], T]) -> T:
        """Run ``work`` in a write transaction; return its result once committed.

        When ``work`` raises, what it wrote is rolled back and the error raised here.
        """

    @abc.abstractmethod
    def _read(self, work: Callable[[Cursor], T]) -> T:
        """Run ``work``, which only reads, and return its result."""

    def _statement(self, work: Callable[[Cursor], T]) -> T:
        """Run ``work``, a single write statement; a variant may skip the explicit transaction."""
        return self._write(work)

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

    def _fenced(self, request_id: str, fence: int, change: Change) -> RequestRecord:
        held = self._held.get(request_id, fence)
        if held is None:

            def load_and_update(cursor: Cursor) -> RequestRecord:
                record = self._load(cursor, request_id)
                transitions.check_fence(record, fence)
                changed = change(record)
                self._update(cursor, changed)
                return changed

            changed = self._write(load_and_update)
        else:
            changed = change(held)
            values = (*mutable_values(changed), request_id, fence)

            def update(cursor: Cursor) -> int:
                cursor.execute(self._fenced_update_sql, values)
                return int(cursor.rowcount)

            if self._statement(update) != 1:
                self._held.drop(request_id, fence)
                raise LeaseLostError(f"request {request_id}: lease lost (fence {fence})")
        self._held.put(changed)
        return changed

    def claim(
        self,
        request_id: str,
        content_hash: str,
        request_json: str,
        event_id: str,
        owner: str,
        lease_seconds: float,
        now: float | None = None,
    ) -> Claim:
        """Insert, or lock and decide, in one transaction (see :meth:`Ledger.claim`)."""
        at = self._now(now)
        fresh = transitions.new_record(
            request_id, content_hash, request_json, event_id, owner, lease_seconds, at
        )
        row = to_row(fresh)

        def insert(cursor: Cursor) -> bool:
            cursor.execute(self._insert_sql, row)
            return bool(cursor.rowcount == 1)

        if self._statement(insert):
            self._hold(fresh)
            return Claim("acquired", fresh, fresh.fence)

        def decide(cursor: Cursor) -> Claim:
            record = self._load(cursor, request_id, full=True)
            outcome, after = transitions.decide_claim(
                record, content_hash, owner, lease_seconds, at
            )
            if outcome != "acquired":
                return Claim(outcome, record)
            self._update(cursor, after)
            return Claim(outcome, after, after.fence)

        decided = self._write(decide)
        if decided.fence is not None:
            self._hold(decided.record)
        return decided

    def record_intent(
        self,
        request_id: str,
        fence: int,
        step: str,
        name: str | None = None,
        *,
        now: float | None = None,
    ) -> int:
        """Mark the step started with its intended name; return its attempts so far."""
        at = self._now(now)
        record = self._fenced(
            request_id, fence, lambda r: transitions.with_intent(r, step, name, at)
        )
        return record.step(step).attempts

    def complete_step(
        self,
        request_id: str,
        fence: int,
        step: str,
        resource_id: str,
        outcome: StepOutcome,
        attempts: int,
        duration: float,
        *,
        then: tuple[str, str | None] | None = None,
        now: float | None = None,
    ) -> int | None:
        """Mark the step done with its resource, and start the next one when ``then`` names it."""
        at = self._now(now)

        def change(record: RequestRecord) -> RequestRecord:
            done = transitions.with_step_done(
                record, step, resource_id, outcome, attempts, duration, at
            )
            return done if then is None else transitions.with_intent(done, *then, at)

        changed = self._fenced(request_id, fence, change)
        return None if then is None else changed.step(then[0]).attempts

    def fail_step(
        self,
        request_id: str,
        fence: int,
        step: str,
        error: Mapping[str, Any],
        attempts: int | None = None,
        *,
        now: float | None = None,
    ) -> None:
        """Mark the step failed with the error."""
        at = self._now(now)
        self._fenced(
            request_id, fence, lambda r: transitions.with_step_failed(r, step, error, attempts, at)
        )

    def schedule_retry(
        self,
        request_id: str,
        fence: int,
        next_retry_at: float,
        error: Mapping[str, Any],
        *,
        now: float | None = None,
    ) -> None:
        """Wait for a delayed retry; the lease is released."""
        at = self._now(now)
        self._fenced(
            request_id, fence, lambda r: transitions.with_retry(r, next_retry_at, error, at)
        )

    def finish(
        self,
        request_id: str,
        fence: int,
        status: Literal["created", "failed"],
        terminal_event: bytes,
        error: Mapping[str, Any] | None = None,
        *,
        now: float | None = None,
    ) -> None:
        """End the request with its terminal event."""
        at = self._now(now)
        self._fenced(
            request_id,
            fence,
            lambda r: transitions.with_finish(r, status, terminal_event, error, at),
        )

    def renew_lease(
        self, request_id: str, fence: int, lease_seconds: float, *, now: float | None = None
    ) -> None:
        """Extend the lease."""
        at = self._now(now)
        self._fenced(request_id, fence, lambda r: transitions.with_lease(r, lease_seconds, at))

    def release(
        self, request_id: str, fence: int, settled: bool, *, now: float | None = None
    ) -> None:
        """Give the lease up."""
        at = self._now(now)
        self._fenced(request_id, fence, lambda r: transitions.with_release(r, settled, at))

    def record_run(
        self, request_id: str, run: Mapping[str, Any], *, now: float | None = None
    ) -> None:
        """Append a followed run; not fenced, and the only write of the ``runs`` column."""
        at = self._now(now)

        def append(cursor: Cursor) -> None:
            record = transitions.with_run(self._load(cursor, request_id), run, at)
            cursor.execute(self._runs_sql, (encode_runs(record.runs), at, request_id))

        self._write(append)

    def reopen_for_replay(self, request_id: str, *, now: float | None = None) -> RequestRecord:
        """Make a failed request pending again, keeping what its done steps created."""
        at = self._now(now)

        def reopen(cursor: Cursor) -> RequestRecord:
            reopened = transitions.reopened(self._load(cursor, request_id, full=True), at)
            self._update(cursor, reopened)
            return reopened

        return self._write(reopen)

    def get(self, request_id: str) -> RequestRecord | None:
        """The record, or ``None``."""

        def select(cursor: Cursor) -> Any:
            cursor.execute(self._select_sql, (request_id,))
            return cursor.fetchone()

        row = self._read(select)
        return None if row is None else from_row(row)

    def summary(self) -> dict[str, int]:
        """Records per status."""

        def count(cursor: Cursor) -> dict[str, int]:
            cursor.execute(f"SELECT status, COUNT(*) FROM {_TABLE} GROUP BY status")
            return {str(status): int(count) for status, count in cursor.fetchall()}

        return self._read(count)

    def list(
        self, status: RequestStatus | None = None, limit: int = 100
    ) -> builtins.list[RequestRecord]:
        """Records, most recently updated first."""
        where, params = ("", (limit,)) if status is None else (" WHERE status = ?", (status, limit))
        sql = f"SELECT {', '.join(COLUMNS)} FROM {_TABLE}{where} ORDER BY updated_at DESC LIMIT ?"

        def select(cursor: Cursor) -> builtins.list[Any]:
            cursor.execute(sql, params)
            return cursor.fetchall()

        return [from_row(row) for row in self._read(select)]

    def prune(self, older_than: float) -> int:
        """Delete finished records older than the cutoff."""

        def delete(cursor: Cursor) -> int:
            cursor.execute(
                f"DELETE FROM {_TABLE} WHERE status IN ({_FINISHED_SQL}) AND finished_at < ?",
                (older_than,),
            )
            return int(cursor.rowcount)

        return self._write(delete)

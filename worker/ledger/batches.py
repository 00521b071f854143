"""Group commit for SQLite: many operations, one transaction, one fsync; errors kept apart.

A batch runs its reads first (they see only committed data), then its writes in one
``BEGIN IMMEDIATE`` transaction, each of several statements in a savepoint so that one that raises
is rolled back alone (SQLite undoes a failed single statement itself), and commits once. Every
``sqlite3`` error becomes a ``LedgerError`` here. Who runs a batch, and how its callers learn the
outcome, is the ledger's business (:mod:`worker.ledger.sqlite`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import Future
from contextlib import suppress
from typing import Any

from worker.errors import LedgerError
from worker.ledger.sql import Op


class Job:
    """One operation and whoever waits for its outcome: a blocking caller or a coroutine."""

    __slots__ = ("error", "future", "loop_future", "op", "result")

    def __init__(self, op: Op[Any], loop_future: asyncio.Future[Any] | None = None) -> None:
        self.op = op
        self.result: Any = None
        self.error: BaseException | None = None
        self.loop_future = loop_future
        self.future: Future[Any] | None = None if loop_future is not None else Future()

    def finish(self) -> None:
        """Run ``then`` on success (a bug in it becomes the outcome)."""
        then = self.op.then
        if self.error is None and then is not None:
            try:
                then(self.result)
            except Exception as error:
                self.error = error

    def resolve(self) -> None:
        """Hand the outcome over (from the loop, for a coroutine)."""
        future: Future[Any] | asyncio.Future[Any] | None = self.future or self.loop_future
        if future is None or future.done():
            return
        if self.error is not None:
            future.set_exception(self.error)
        else:
            future.set_result(self.result)


def run_batch(connection: sqlite3.Connection, batch: list[Job]) -> None:
    """Run the batch's reads, then its writes in one transaction; outcomes are set, not handed."""
    cursor = connection.cursor()
    writes: list[Job] = []
    try:
        for job in batch:
            if job.op.write:
                writes.append(job)
                continue
            try:
                job.result = job.op.work(cursor)
            except sqlite3.Error as error:
                job.error = failure("ledger read failed", error)
            except Exception as error:
                job.error = error
        if writes:
            _commit_together(connection, cursor, writes)
    finally:
        for job in batch:
            job.finish()


def _undo(connection: sqlite3.Connection, cursor: sqlite3.Cursor, job: Job) -> None:
    """Roll back what a failed operation wrote; the others of the batch stay."""
    if not job.op.single:
        cursor.execute("ROLLBACK TO job")
    elif not connection.in_transaction:  # the error ended the whole transaction
        raise LedgerError("the batch's transaction was rolled back")


def _commit_together(
    connection: sqlite3.Connection, cursor: sqlite3.Cursor, writes: list[Job]
) -> None:
    """Run the writes in one transaction (a savepoint each, unless single); commit once."""
    try:
        # IMMEDIATE takes the write lock up front, so a read-then-write never deadlocks.
        cursor.execute("BEGIN IMMEDIATE")
        for job in writes:
            if not job.op.single:
                cursor.execute("SAVEPOINT job")
            try:
                job.result = job.op.work(cursor)
            except sqlite3.Error as error:
                job.error = failure("ledger write failed", error)
                _undo(connection, cursor, job)
            except Exception as error:
                job.error = error
                _undo(connection, cursor, job)
            if not job.op.single:
                cursor.execute("RELEASE job")
        cursor.execute("COMMIT")
    except Exception as error:
        if connection.in_transaction:  # some errors have rolled it back already
            with suppress(sqlite3.Error):
                cursor.execute("ROLLBACK")
        for job in writes:  # nothing of the batch was committed
            job.result = None
            job.error = (
                failure("ledger write failed", error)
                if isinstance(error, sqlite3.Error)
                else LedgerError(f"ledger write failed: {error}")
            )


def failure(context: str, error: sqlite3.Error) -> LedgerError:
    """Our error for a ``sqlite3`` one, with the cause kept."""
    translated = LedgerError(f"{context}: {error}")
    translated.__cause__ = error
    return translated


class LoopBatches:
    """The event loop's own connection: the operations of one loop round, one transaction.

    A coroutine's operation waits until the loop has run its ready callbacks; then the round's
    operations run together and each waiting coroutine resumes in the next round. No thread
    hand-off, no wake-up from another thread: the loop pays for the commit (an fsync) itself.
    """

    def __init__(self, connection: sqlite3.Connection, loop: asyncio.AbstractEventLoop) -> None:
        self._connection = connection
        self._loop = loop
        self._pending: list[Job] = []

    def submit(self, op: Op[Any]) -> asyncio.Future[Any]:
        """Queue an operation for the end of this round."""
        future: asyncio.Future[Any] = self._loop.create_future()
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(Job(op, future))
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            run_batch(self._connection, batch)
        finally:
            for job in batch:
                job.resolve()

    def close(self) -> None:
        """Close the loop's connection (what is still pending fails)."""
        for job in self._pending:
            job.error = LedgerError("the ledger is closed")
            job.resolve()
        self._pending = []
        self._connection.close()

"""The SQLite ledger: one file, WAL with ``synchronous=FULL``, group commit by one writer thread.

SQLite allows one writer at a time and every commit waits for an fsync. So one thread owns the
connection and runs the operations of all the worker's threads: it takes every operation queued
while the previous commit was syncing, runs the writes in one transaction (each of several
statements in a savepoint, so one that raises is rolled back alone; SQLite undoes a failed single
statement itself), commits once, and only then wakes each caller.
A write returns exactly as before, after the fsync that made it durable; many writes share it.
Reads run before the batch's transaction and see only committed data.

Other processes (a second worker on the same host, ``dataflow-worker status``) wait in the busy
handler up to ``busy_timeout``. Every ``sqlite3`` error is translated into ``LedgerError`` here.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Awaitable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from typing import Any

from worker.errors import LedgerError
from worker.ledger.cursor import Cursor
from worker.ledger.migrations import LATEST_VERSION, migrate
from worker.ledger.sql import Clock, Op, SqlLedger, T

TYPES = {"real": "REAL", "blob": "BLOB"}
BUSY_TIMEOUT_MS = 10_000
BATCH_LIMIT = 256  # operations per transaction, at most


def sqlite_path(state_url: str) -> str:
    """The file path of a ``sqlite:///path`` URL (``sqlite:////abs`` for an absolute one)."""
    prefix = "sqlite:///"
    if not state_url.startswith(prefix) or state_url == prefix:
        raise LedgerError(f"not a SQLite state URL (sqlite:///PATH): {state_url}")
    return state_url[len(prefix) :]


class _Job:
    """One operation handed to the writer thread, and whoever waits for its outcome.

    A blocking caller waits on a ``concurrent.futures.Future``; a coroutine on an asyncio future
    of its loop, which the writer resolves with the rest of its batch in one hand-over to the
    loop (one wake-up per batch, not one per operation).
    """

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
        """Hand a blocking caller its outcome (coroutines are handed theirs by batch)."""
        if self.future is None:
            return
        if self.error is not None:
            self.future.set_exception(self.error)
        else:
            self.future.set_result(self.result)


def _hand_over(jobs: list[_Job]) -> None:
    """Resolve coroutines' futures, on their loop (called there by ``call_soon_threadsafe``)."""
    for job in jobs:
        future = job.loop_future
        if future is None or future.done():
            continue
        if job.error is not None:
            future.set_exception(job.error)
        else:
            future.set_result(job.result)


def _resolve_by_loop(jobs: list[_Job]) -> None:
    """One hand-over per event loop for the coroutines of a batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
    for job in jobs:
        if job.loop_future is not None:
            by_loop.setdefault(job.loop_future.get_loop(), []).append(job)
    for loop, waiting in by_loop.items():
        with suppress(RuntimeError):  # the loop was closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(_hand_over, waiting)


def _resolve_now(job: _Job) -> None:
    """Resolve a coroutine's future from the loop it belongs to (the ledger was closed)."""
    if job.loop_future is not None:
        job.loop_future.get_loop().call_soon(_hand_over, [job])


def _failure(context: str, error: sqlite3.Error) -> LedgerError:
    failure = LedgerError(f"{context}: {error}")
    failure.__cause__ = error
    return failure


class SqliteLedger(SqlLedger):
    """The ledger in a SQLite file (or in memory, for tests)."""

    def __init__(
        self, path: str, *, clock: Clock = time.time, schema_version: int = LATEST_VERSION
    ) -> None:
        """Open (creating if needed) and upgrade the ledger at ``path``."""
        super().__init__(clock)
        with self._guard(f"cannot open the ledger at {path}"):
            self._connection = sqlite3.connect(
                path,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._open_lock = threading.Lock()
        self._closed = False
        self._writer = threading.Thread(target=self._serve, name="dataflow-ledger", daemon=True)
        try:
            with self._guard(f"cannot prepare the ledger at {path}"):
                self._configure()
            self._writer.start()
            self._run(lambda cursor: migrate(cursor, TYPES, schema_version), write=True)
        except BaseException:
            self.close()
            raise

    def _configure(self) -> None:
        # Durability is not traded for speed: WAL with a full sync on every commit survives a
        # power cut, not only a process crash.
        execute = self._connection.execute
        execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        execute("PRAGMA journal_mode = WAL")
        execute("PRAGMA synchronous = FULL")
        execute("PRAGMA fullfsync = ON")  # macOS: flush the drive's cache too; ignored elsewhere

    @contextmanager
    def _guard(self, context: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise LedgerError(f"{context}: {error}") from error

    # -- what the callers' threads do ----------------------------------------------------

    def _submit(self, op: Op[T]) -> Future[T]:
        job = _Job(op)
        self._enqueue(job)
        assert job.future is not None
        return job.future

    def _submit_async(self, op: Op[T]) -> Awaitable[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(_Job(op, future))
        return future

    def _enqueue(self, job: _Job) -> None:
        with self._open_lock:
            if self._closed:
                job.error = LedgerError("the ledger is closed")
                job.resolve()
                _resolve_now(job)
            else:
                self._jobs.put(job)

    def pragma(self, name: str) -> str | int:
        """The value of a PRAGMA (``journal_mode``, ``synchronous``), to check durability."""

        def read(cursor: Cursor) -> str | int:
            cursor.execute(f"PRAGMA {name}")
            value: str | int = cursor.fetchone()[0]
            return value

        return self._run(read, write=False)

    def close(self) -> None:
        """Finish the queued operations, stop the writer thread and close the connection."""
        with self._open_lock:
            if self._closed:
                return
            self._closed = True
            self._jobs.put(None)
        if self._writer.is_alive():
            self._writer.join()
        self._connection.close()

    # -- the writer thread ---------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            batch, stop = [job], False
            while len(batch) < BATCH_LIMIT:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[_Job]) -> None:
        cursor = self._connection.cursor()
        writes: list[_Job] = []
        try:
            for job in batch:
                if job.op.write:
                    writes.append(job)
                    continue
                try:
                    job.result = job.op.work(cursor)
                except sqlite3.Error as error:
                    job.error = _failure("ledger read failed", error)
                except Exception as error:
                    job.error = error
            if writes:
                self._commit_together(cursor, writes)
        finally:
            for job in batch:
                job.finish()
                job.resolve()
            _resolve_by_loop(batch)

    def _undo(self, cursor: sqlite3.Cursor, job: _Job) -> None:
        """Roll back what a failed operation wrote; the others of the batch stay."""
        if not job.op.single:
            cursor.execute("ROLLBACK TO job")
        elif not self._connection.in_transaction:  # the error ended the whole transaction
            raise LedgerError("the batch's transaction was rolled back")

    def _commit_together(self, cursor: sqlite3.Cursor, writes: list[_Job]) -> None:
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
                    job.error = _failure("ledger write failed", error)
                    self._undo(cursor, job)
                except Exception as error:
                    job.error = error
                    self._undo(cursor, job)
                if not job.op.single:
                    cursor.execute("RELEASE job")
            cursor.execute("COMMIT")
        except Exception as error:
            if self._connection.in_transaction:  # some errors have rolled it back already
                with suppress(sqlite3.Error):
                    cursor.execute("ROLLBACK")
            for job in writes:  # nothing of the batch was committed
                job.result = None
                job.error = (
                    _failure("ledger write failed", error)
                    if isinstance(error, sqlite3.Error)
                    else LedgerError(f"ledger write failed: {error}")
                )

"""The SQLite ledger: one file, WAL with ``synchronous=FULL``, group commit both ways.

SQLite allows one writer at a time and every commit waits for an fsync, so operations are run in
batches (:mod:`worker.ledger.batches`): one transaction, one fsync, each caller answered once its
write is durable.

* Blocking callers (commands, tests, the health probe, pruning) hand their operations to a writer
  thread that owns a connection and runs everything queued while the previous commit synced.
* Coroutines on an event loop (the worker's engine) have a connection of that loop's own: the
  operations of one loop round run together at its end (:class:`LoopBatches`). Handing each to
  a thread and back cost more than the write, and queued it behind the loop's own work.

Other processes (a second worker on the same host, ``dataflow-worker status``) and the two
connections of one process wait for each other in the busy handler, up to ``busy_timeout``.
Every ``sqlite3`` error is translated into ``LedgerError`` (here and in ``batches``).
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Awaitable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager

from worker.errors import LedgerError
from worker.ledger.batches import Job, LoopBatches, run_batch
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


class SqliteLedger(SqlLedger):
    """The ledger in a SQLite file (or in memory, for tests)."""

    def __init__(
        self, path: str, *, clock: Clock = time.time, schema_version: int = LATEST_VERSION
    ) -> None:
        """Open (creating if needed) and upgrade the ledger at ``path``."""
        super().__init__(clock)
        self._path = path
        self._connection = self._open(f"cannot open the ledger at {path}")
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._open_lock = threading.Lock()
        self._closed = False
        self._loops: dict[asyncio.AbstractEventLoop, LoopBatches] = {}
        self._writer = threading.Thread(target=self._serve, name="dataflow-ledger", daemon=True)
        try:
            self._writer.start()
            self._run(lambda cursor: migrate(cursor, TYPES, schema_version), write=True)
        except BaseException:
            self.close()
            raise

    def _open(self, context: str) -> sqlite3.Connection:
        with self._guard(context):
            connection = sqlite3.connect(
                self._path,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            # Durability is not traded for speed: WAL with a full sync on every commit survives a
            # power cut, not only a process crash.
            execute = connection.execute
            execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            execute("PRAGMA journal_mode = WAL")
            execute("PRAGMA synchronous = FULL")
            execute(
                "PRAGMA fullfsync = ON"
            )  # macOS: flush the drive's cache too; ignored elsewhere
        return connection

    @contextmanager
    def _guard(self, context: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise LedgerError(f"{context}: {error}") from error

    # -- what the callers do -------------------------------------------------------------

    def _submit(self, op: Op[T]) -> Future[T]:
        job = Job(op)
        with self._open_lock:
            if self._closed:
                job.error = LedgerError("the ledger is closed")
                job.resolve()
            else:
                self._jobs.put(job)
        assert job.future is not None
        return job.future

    def _submit_async(self, op: Op[T]) -> Awaitable[T]:
        loop = asyncio.get_running_loop()
        batches = self._loops.get(loop)
        if batches is None:
            with self._open_lock:
                if self._closed:
                    raise LedgerError("the ledger is closed")
                connection = self._open(f"cannot open the ledger at {self._path}")
                batches = self._loops[loop] = LoopBatches(connection, loop)
        future: asyncio.Future[T] = batches.submit(op)
        return future

    def pragma(self, name: str) -> str | int:
        """The value of a PRAGMA (``journal_mode``, ``synchronous``), to check durability."""

        def read(cursor: Cursor) -> str | int:
            cursor.execute(f"PRAGMA {name}")
            value: str | int = cursor.fetchone()[0]
            return value

        return self._run(read, write=False)

    def close(self) -> None:
        """Finish the queued operations, stop the writer thread and close the connections."""
        with self._open_lock:
            if self._closed:
                return
            self._closed = True
            self._jobs.put(None)
            loops, self._loops = self._loops, {}
        if self._writer.is_alive():
            self._writer.join()
        self._connection.close()
        for batches in loops.values():
            batches.close()

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
            try:
                run_batch(self._connection, batch)
            finally:
                for each in batch:
                    each.resolve()
            if stop:
                return

"""The SQLite ledger: one file, WAL with ``synchronous=FULL``, one connection behind a lock.

SQLite allows one writer at a time anyway; serialising the worker's threads on a Python lock is
cheaper than letting them spin in SQLite's busy handler. Other processes (a second worker on the
same host, ``dataflow-worker status``) wait in the busy handler up to ``busy_timeout``. Every
``sqlite3`` error is translated into ``LedgerError`` here, in :meth:`SqliteLedger._guard`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from worker.errors import LedgerError
from worker.ledger.cursor import Cursor
from worker.ledger.migrations import LATEST_VERSION, migrate
from worker.ledger.sql import Clock, SqlLedger

TYPES = {"real": "REAL", "blob": "BLOB"}
BUSY_TIMEOUT_MS = 10_000


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
        self._lock = threading.Lock()
        with self._guard(f"cannot open the ledger at {path}"):
            self._connection = sqlite3.connect(
                path,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        try:
            with self._guard(f"cannot prepare the ledger at {path}"):
                self._configure()
            with self._transaction() as cursor:
                migrate(cursor, TYPES, schema_version)
        except BaseException:
            self._connection.close()
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

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        with self._lock, self._guard("ledger write failed"):
            cursor = self._connection.cursor()
            # IMMEDIATE takes the write lock up front, so a read-then-write never deadlocks.
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                if self._connection.in_transaction:  # some errors have rolled it back already
                    cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    @contextmanager
    def _autocommit(self) -> Iterator[Cursor]:
        with self._lock, self._guard("ledger read failed"):
            yield self._connection.cursor()

    def pragma(self, name: str) -> str | int:
        """The value of a PRAGMA (``journal_mode``, ``synchronous``), to check durability."""
        with self._autocommit() as cursor:
            cursor.execute(f"PRAGMA {name}")
            value: str | int = cursor.fetchone()[0]
            return value

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._connection.close()

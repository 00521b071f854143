"""The PostgreSQL ledger, for many workers on many hosts: row locks, a small connection pool.

Claims are ``INSERT ... ON CONFLICT DO NOTHING`` then ``SELECT ... FOR UPDATE`` in one
transaction; ``synchronous_commit`` is forced on for the ledger's sessions, whatever the server
default. Every ``psycopg`` error is translated into ``LedgerError`` here, in
:meth:`PostgresLedger._connection`.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from worker.errors import LedgerError
from worker.ledger.cursor import Cursor
from worker.ledger.migrations import LATEST_VERSION, migrate
from worker.ledger.sql import Clock, SqlLedger, T

TYPES = {"real": "DOUBLE PRECISION", "blob": "BYTEA"}
MIGRATION_LOCK = 0x64617461666C6F77  # "dataflow": serialises schema upgrades across workers
CONNECT_TIMEOUT_SECONDS = 10


@functools.lru_cache(maxsize=64)
def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _Cursor:
    """A psycopg cursor that speaks the ledger's ``?`` placeholders."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        return self._cursor.execute(_placeholders(sql), parameters)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


class PostgresLedger(SqlLedger):
    """The ledger in a PostgreSQL database (the schema of the URL's ``search_path``)."""

    lock_clause = " FOR UPDATE"

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = time.time,
        pool_size: int = 8,
        schema_version: int = LATEST_VERSION,
    ) -> None:
        """Connect, and create or upgrade the schema under an advisory lock."""
        super().__init__(clock)
        self._url = url
        self._idle: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._open: set[psycopg.Connection[Any]] = set()
        self._open_lock = threading.Lock()
        try:
            with self._transaction() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
                migrate(cursor, TYPES, schema_version)
        except BaseException:
            self.close()
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(
            self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
        connection.execute("SET synchronous_commit TO on")
        with self._open_lock:
            self._open.add(connection)
        return connection

    def _discard(self, connection: psycopg.Connection[Any]) -> None:
        with self._open_lock:
            self._open.discard(connection)
        connection.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        self._slots.acquire()
        connection: psycopg.Connection[Any] | None = None
        try:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                connection = self._connect()
            yield connection
        except psycopg.Error as error:
            if connection is not None and not connection.closed:
                self._discard(connection)  # its state is unknown: never reuse it
            connection = None
            raise LedgerError(f"ledger database error: {error}".strip()) from error
        finally:
            if connection is not None:
                if connection.closed or connection.broken:
                    self._discard(connection)
                else:
                    self._idle.put(connection)
            self._slots.release()

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        with self._connection() as connection, connection.transaction():
            yield _Cursor(connection.cursor())

    @contextmanager
    def _autocommit(self) -> Iterator[Cursor]:
        with self._connection() as connection:
            yield _Cursor(connection.cursor())

    def _write(self, work: Callable[[Cursor], T]) -> T:
        with self._transaction() as cursor:
            return work(cursor)

    def _statement(self, work: Callable[[Cursor], T]) -> T:
        with self._autocommit() as cursor:  # one statement: its own transaction, one round trip
            return work(cursor)

    def _read(self, work: Callable[[Cursor], T]) -> T:
        with self._autocommit() as cursor:
            return work(cursor)

    def setting(self, name: str) -> str:
        """The session's value of a server setting (``synchronous_commit``), to check durability."""
        with self._autocommit() as cursor:
            cursor.execute("SELECT current_setting(?)", (name,))
            value: str = cursor.fetchone()[0]
            return value

    def close(self) -> None:
        """Close every connection of the pool."""
        with self._open_lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            connection.close()

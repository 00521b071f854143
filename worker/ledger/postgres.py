"""The PostgreSQL ledger, for many workers on many hosts: row locks and a pool sized to the work.

Claims are ``INSERT ... ON CONFLICT DO NOTHING`` then ``SELECT ... FOR UPDATE`` in one
transaction; ``synchronous_commit`` is forced on for the ledger's sessions, whatever the server
default. Connections come from a ``psycopg_pool.ConnectionPool`` of ``pool_size`` (the worker
sizes it from its concurrency); each operation runs in one of as many threads, so the worker's
event loop never waits on the database. Waiting longer than ``acquire_timeout`` for a connection
is a retryable ``LedgerError``. Every ``psycopg`` error is translated here, in :meth:`_execute`.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import psycopg
import psycopg_pool

from worker.errors import LedgerError
from worker.ledger.cursor import Cursor
from worker.ledger.migrations import LATEST_VERSION, migrate
from worker.ledger.sql import Clock, Op, SqlLedger, T

TYPES = {"real": "DOUBLE PRECISION", "blob": "BYTEA"}
MIGRATION_LOCK = 0x64617461666C6F77  # "dataflow": serialises schema upgrades across workers
CONNECT_TIMEOUT_SECONDS = 10
DEFAULT_POOL_SIZE = 8
ACQUIRE_TIMEOUT_SECONDS = 10.0


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


def _configure(connection: psycopg.Connection[Any]) -> None:
    connection.execute("SET synchronous_commit TO on")


class PostgresLedger(SqlLedger):
    """The ledger in a PostgreSQL database (the schema of the URL's ``search_path``)."""

    lock_clause = " FOR UPDATE"

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = time.time,
        pool_size: int = DEFAULT_POOL_SIZE,
        acquire_timeout: float = ACQUIRE_TIMEOUT_SECONDS,
        schema_version: int = LATEST_VERSION,
    ) -> None:
        """Connect, and create or upgrade the schema under an advisory lock."""
        super().__init__(clock)
        self._closed = threading.Event()
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=max(pool_size, 1),
            timeout=acquire_timeout,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
            configure=_configure,
            open=False,
            name="dataflow-ledger",
        )
        self._threads = ThreadPoolExecutor(max(pool_size, 1), thread_name_prefix="dataflow-pg")
        try:
            self._migrate(url, schema_version)
            try:
                self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS + 2)
            except psycopg_pool.PoolTimeout as error:
                raise LedgerError(f"ledger database unreachable: {_first_line(error)}") from None
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _migrate(url: str, schema_version: int) -> None:
        """Create or upgrade the schema on a connection of its own (its error is the clearest)."""
        try:
            with psycopg.connect(
                url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            ) as connection:
                _configure(connection)
                with connection.transaction():
                    cursor = _Cursor(connection.cursor())
                    cursor.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
                    migrate(cursor, TYPES, schema_version)
        except psycopg.Error as error:
            raise LedgerError(f"ledger database error: {_first_line(error)}") from error

    def _execute(self, work: Callable[[Cursor], T], *, write: bool, single: bool = False) -> T:
        """Run ``work`` on a pooled connection (in a transaction for a multi-statement write)."""
        try:
            with self._pool.connection() as connection:
                if write and not single:
                    with connection.transaction():
                        return work(_Cursor(connection.cursor()))
                return work(_Cursor(connection.cursor()))
        except psycopg_pool.PoolTimeout as error:
            raise LedgerError(f"ledger database busy: {_first_line(error)}") from None
        except psycopg.Error as error:
            raise LedgerError(f"ledger database error: {_first_line(error)}") from error

    def _submit(self, op: Op[T]) -> Future[T]:
        def run() -> T:
            result = self._execute(op.work, write=op.write, single=op.single)
            if op.then is not None:
                op.then(result)
            return result

        if self._closed.is_set():
            future: Future[T] = Future()
            future.set_exception(LedgerError("the ledger is closed"))
            return future
        return self._threads.submit(run)

    def setting(self, name: str) -> str:
        """The session's value of a server setting (``synchronous_commit``), to check durability."""

        def read(cursor: Cursor) -> str:
            cursor.execute("SELECT current_setting(?)", (name,))
            value: str = cursor.fetchone()[0]
            return value

        return self._run(read, write=False)

    def close(self) -> None:
        """Finish queued operations, then close every connection of the pool."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._threads.shutdown(wait=True)
        self._pool.close()


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]

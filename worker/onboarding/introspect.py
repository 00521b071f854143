"""Read a database's tables and columns through information_schema (the I/O of ``discover``).

PostgreSQL (``postgresql://``, psycopg 3) and MySQL/MariaDB (``mysql://``, PyMySQL). This is the
one module where their errors become ours: a DSN that cannot work is a ``ConfigurationError``
(exit 2), a database that cannot be reached or read is a ``SourceDatabaseError`` (exit 1). No
message repeats the DSN's password.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from worker.errors import ConfigurationError, DataflowError, SourceDatabaseError
from worker.onboarding.discovery import SourceColumn, SourceTable

CONNECT_TIMEOUT_SECONDS = 5
_POSTGRES_SCHEMES = ("postgresql", "postgres")
_MYSQL_SCHEMES = ("mysql", "mariadb", "mysql+pymysql")

_POSTGRES_COLUMNS = """
SELECT c.table_schema, c.table_name, c.column_name, c.data_type, c.udt_name,
       c.character_maximum_length, c.numeric_precision, c.numeric_scale
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE t.table_type = 'BASE TABLE'
  AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
  AND c.table_schema NOT LIKE 'pg\\_%%'
  AND (%(schema)s::text IS NULL OR c.table_schema = %(schema)s::text)
ORDER BY c.table_schema, c.table_name, c.ordinal_position
"""

_MYSQL_COLUMNS = """
SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE
FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t
  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE t.TABLE_TYPE = 'BASE TABLE'
  AND c.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
  AND (%(schema)s IS NULL OR c.TABLE_SCHEMA = %(schema)s)
ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION
"""


@dataclass(frozen=True)
class Introspection:
    """What a database holds: its server's connector name and its tables."""

    connector: str
    server: str
    tables: list[SourceTable]


def redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def introspect(dsn: str, schema: str | None = None) -> Introspection:
    """Connect to the database at ``dsn`` and list its tables (of ``schema`` when given)."""
    scheme = urlsplit(dsn).scheme.lower()
    if scheme in _POSTGRES_SCHEMES:
        return _postgres(dsn, schema)
    if scheme in _MYSQL_SCHEMES:
        return _mysql(dsn, schema)
    shown = scheme or "none"
    raise ConfigurationError(
        f"unsupported DSN scheme {shown!r}: use postgresql://... or mysql://... ({redact(dsn)})"
    )


def _postgres(dsn: str, schema: str | None) -> Introspection:
    import psycopg

    with _translated(dsn, psycopg.Error, psycopg.ProgrammingError):
        if dsn.startswith("postgres://"):
            dsn = "postgresql://" + dsn.removeprefix("postgres://")
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection:
            server = str(connection.execute("SELECT version()").fetchone()[0])  # type: ignore[index]
            rows = connection.execute(_POSTGRES_COLUMNS, {"schema": schema}).fetchall()
    columns = ((r[0], r[1], SourceColumn(r[2], *_postgres_type(*r[3:]))) for r in rows)
    return Introspection("postgresql", server, _group(columns))


def _postgres_type(
    data_type: str, udt_name: str, length: int | None, precision: int | None, scale: int | None
) -> tuple[str, str | None]:
    """The type as written in DDL, and the element type of an array."""
    if data_type == "ARRAY":
        element = udt_name.removeprefix("_")
        return f"{element}[]", element
    if data_type == "USER-DEFINED":
        return udt_name, None
    if length is not None:
        return f"{data_type}({length})", None
    if data_type == "numeric" and precision is not None:
        return f"numeric({precision},{scale or 0})", None
    return data_type, None


def _mysql(dsn: str, schema: str | None) -> Introspection:
    import pymysql

    parts = urlsplit(dsn)
    database = unquote(parts.path.lstrip("/")) or None
    with _translated(dsn, pymysql.MySQLError, pymysql.ProgrammingError):
        try:
            port = parts.port or 3306
        except ValueError:
            raise ConfigurationError(f"the DSN's port is not a number ({redact(dsn)})") from None
        connection = pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=port,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=database,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT VERSION()")
                server = str(cursor.fetchone()[0])
                cursor.execute(_MYSQL_COLUMNS, {"schema": schema or database})
                rows = list(cursor.fetchall())
        finally:
            connection.close()
    connector = "mariadb" if "mariadb" in server.lower() else "mysql"
    columns = ((str(r[0]), str(r[1]), SourceColumn(str(r[2]), _text(r[3]))) for r in rows)
    return Introspection(connector, server, _group(columns))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _group(rows: Iterable[tuple[str, str, SourceColumn]]) -> list[SourceTable]:
    """Columns in table order, grouped into tables."""
    tables: dict[tuple[str, str], list[SourceColumn]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), []).append(column)
    return [SourceTable(s, t, tuple(cols)) for (s, t), cols in tables.items()]


@contextmanager
def _translated(
    dsn: str, driver_error: type[Exception], usage_error: type[Exception]
) -> Iterator[None]:
    """The driver's errors as ours: bad usage is configuration, the rest the database's."""
    try:
        yield
    except DataflowError:
        raise
    except usage_error as error:
        raise ConfigurationError(f"{redact(dsn)}: {_first_line(error)}") from error
    except (driver_error, OSError) as error:
        raise SourceDatabaseError(f"cannot read {redact(dsn)}: {_first_line(error)}") from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]

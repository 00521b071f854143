"""Throwaway source databases with a few tables of varied column types, for discover and onboard."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from worker.onboarding.discovery import SourceColumn, SourceTable, discover_tables, render_manifest

POSTGRES_TABLES = (
    """CREATE TABLE {s}.customers (
        customer_id bigint PRIMARY KEY, email varchar(254), birth_date date,
        score numeric(10,2), ratio double precision, active boolean, tags text[],
        profile jsonb, photo bytea, created_at timestamp, updated_at timestamptz)""",
    "CREATE TABLE {s}.orders (order_id integer, line_no smallint, placed_at timestamp)",
    "CREATE TABLE {s}.order_items (order_id integer, sku text, last_modified timestamptz)",
    "CREATE TABLE {s}.country_codes (code char(2), name text)",
)

MARIADB_TABLES = (
    """CREATE TABLE contacts (
        contact_id bigint unsigned, visits int unsigned, tiny tinyint, opted_in tinyint(1),
        amount decimal(10,2), kind enum('a','b'), notes longtext, attrs json,
        avatar blob, modified datetime(3))""",
    "CREATE TABLE events (id int, happened_at timestamp)",
)


@contextmanager
def postgres_source(base_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema holding ``POSTGRES_TABLES``; yields its name, drops it after."""
    import psycopg

    schema = f"disc_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        for ddl in POSTGRES_TABLES:
            admin.execute(ddl.format(s=schema))
    try:
        yield schema
    finally:
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def mariadb_source(base_url: str) -> Iterator[str]:
    """A fresh MariaDB database holding ``MARIADB_TABLES``; yields its DSN, drops it after."""
    import pymysql

    parts = urlsplit(base_url)
    database = f"disc_{uuid.uuid4().hex[:12]}"
    options = {"host": parts.hostname, "port": parts.port or 3306, "user": parts.username or "root"}
    connection = pymysql.connect(**options, password=parts.password or "", autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {database}")
            cursor.execute(f"USE {database}")
            for ddl in MARIADB_TABLES:
                cursor.execute(ddl)
        yield parts._replace(path=f"/{database}").geturl()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database}")
        connection.close()


def write_manifest(path: Path, base_connection_id: str, *names: str) -> list[str]:
    """A discovered-style manifest of tables ``names``; returns their request ids."""
    tables = [
        SourceTable(
            "public",
            name,
            (SourceColumn("id", "bigint"), SourceColumn("updated_at", "timestamptz")),
        )
        for name in names
    ]
    discovery = discover_tables(
        tables, connector="postgresql", base_connection_id=base_connection_id, start_time=0
    )
    path.write_text(render_manifest(discovery, origin="a test"), encoding="utf-8")
    return [str(request["request_id"]) for request in discovery.requests]

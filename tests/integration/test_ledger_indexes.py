"""The ledger's statements use an index, so a backlog of any size costs the same per write.

SQLite's query plan is deterministic: each statement must SEARCH (an index), never SCAN the
table. PostgreSQL's planner may scan a small table whatever its indexes, so there sequential
scans are switched off for the session and the generic plan of each prepared statement (the one
its parameters cannot simplify) must still use an index (one exists).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from tests.integration.scenario import postgres_database
from worker.ledger import open_ledger
from worker.ledger.sql import SqlLedger

pytestmark = pytest.mark.integration


def statements(ledger: SqlLedger) -> dict[str, str]:
    """The statements a worker runs per request, by what they do."""
    return {
        "claim (row lock)": ledger._lock_full_sql,
        "read": ledger._select_sql,
        "write": ledger._update_sql,
        "fenced write": ledger._fenced_update_sql,
        "applied copy": ledger._applied_sql,
        "run": ledger._runs_sql,
    }


def test_every_per_request_statement_searches_an_index_in_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with open_ledger(f"sqlite:///{path}") as ledger:
        assert isinstance(ledger, SqlLedger)
        work = statements(ledger)
    with sqlite3.connect(path) as connection:
        for what, sql in work.items():
            parameters = [None] * sql.count("?")
            plan = connection.execute(f"EXPLAIN QUERY PLAN {sql}", parameters).fetchall()
            details = " ".join(str(row[-1]) for row in plan)
            assert "SEARCH" in details, (what, details)
            assert "SCAN" not in details, (what, details)


def test_every_per_request_statement_can_use_an_index_in_postgresql(postgres_url: str) -> None:
    with postgres_database(postgres_url) as url:
        with open_ledger(url) as ledger:
            assert isinstance(ledger, SqlLedger)
            work = statements(ledger)
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("SET enable_seqscan = off")
            connection.execute("SET plan_cache_mode = force_generic_plan")
            for number, (what, sql) in enumerate(work.items()):
                parts = sql.split("?")
                query = "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]
                connection.execute(f"PREPARE statement{number} AS {query}")
                nulls = ", ".join(["NULL"] * (len(parts) - 1))
                plan = connection.execute(f"EXPLAIN EXECUTE statement{number}({nulls})").fetchall()
                details = " ".join(str(row[0]) for row in plan)
                assert "Index" in details, (what, details)
                assert "Seq Scan" not in details, (what, details)

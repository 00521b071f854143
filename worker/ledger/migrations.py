"""The ledger's versioned schema: migrations applied in place, in order, on open.

Each migration is a list of statements; ``{real}`` and ``{blob}`` stand for the variant's types.
The version lives in ``ledger_schema``. A database newer than this code is refused rather than
written with a schema it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping

from worker.errors import LedgerError
from worker.ledger.cursor import Cursor

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: one row per request, steps and last error as JSON.
    (
        """CREATE TABLE ledger_requests (
            request_id TEXT PRIMARY KEY,
            content_hash TEXT NOT NULL,
            request_json TEXT NOT NULL,
            first_event_id TEXT NOT NULL,
            status TEXT NOT NULL,
            steps TEXT NOT NULL,
            deliveries INTEGER NOT NULL,
            last_error TEXT,
            next_retry_at {real},
            created_at {real} NOT NULL,
            updated_at {real} NOT NULL,
            finished_at {real},
            lease_owner TEXT,
            lease_expires_at {real},
            fence BIGINT NOT NULL
        )""",
    ),
    # 2: the poison counter, the terminal event a duplicate republishes, followed runs, and an
    # index for status summaries and pruning.
    (
        "ALTER TABLE ledger_requests ADD COLUMN unsettled_deliveries INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE ledger_requests ADD COLUMN terminal_event {blob}",
        "ALTER TABLE ledger_requests ADD COLUMN runs TEXT NOT NULL DEFAULT '[]'",
        "CREATE INDEX ledger_requests_status ON ledger_requests (status, finished_at)",
    ),
    # 3: the operation in progress (create, or the rollback of a failed create), so a rollback
    # is a transition the ledger knows and a crash in the middle of one resumes it.
    ("ALTER TABLE ledger_requests ADD COLUMN operation TEXT NOT NULL DEFAULT 'create'",),
    # 4: a dataflow's life (contract 2.4): the latest revision received and when its command
    # started, the revision last applied with its content, and a deletion's reason. Requests
    # created before are revision 1, applied.
    (
        "ALTER TABLE ledger_requests ADD COLUMN revision BIGINT NOT NULL DEFAULT 1",
        "ALTER TABLE ledger_requests ADD COLUMN started_at {real}",
        "ALTER TABLE ledger_requests ADD COLUMN applied_revision BIGINT",
        "ALTER TABLE ledger_requests ADD COLUMN applied_json TEXT",
        "ALTER TABLE ledger_requests ADD COLUMN deletion_reason TEXT",
        "UPDATE ledger_requests SET applied_revision = 1, applied_json = request_json "
        "WHERE status = 'created'",
    ),
)

LATEST_VERSION = len(MIGRATIONS)


def schema_version(cursor: Cursor) -> int:
    """The version the database is at (0 when the ledger was never created there)."""
    cursor.execute("CREATE TABLE IF NOT EXISTS ledger_schema (version INTEGER NOT NULL)")
    cursor.execute("SELECT version FROM ledger_schema")
    row = cursor.fetchone()
    return 0 if row is None else int(row[0])


def migrate(cursor: Cursor, types: Mapping[str, str], target: int = LATEST_VERSION) -> int:
    """Upgrade the schema to ``target`` inside the caller's transaction; return the version."""
    current = schema_version(cursor)
    if current > LATEST_VERSION:
        raise LedgerError(
            f"the ledger's schema is version {current}, newer than this worker knows "
            f"({LATEST_VERSION}); upgrade the worker"
        )
    for version in range(current + 1, target + 1):
        for statement in MIGRATIONS[version - 1]:
            cursor.execute(statement.format(**types))
    if target > current:
        if current == 0:
            cursor.execute("INSERT INTO ledger_schema (version) VALUES (?)", (target,))
        else:
            cursor.execute("UPDATE ledger_schema SET version = ?", (target,))
    return max(current, target)

"""The durable step ledger: one record per request, leases with fencing, SQLite or PostgreSQL."""

from __future__ import annotations

import time

from worker.errors import LedgerError
from worker.ledger.base import (
    Claim,
    ClaimOutcome,
    Ledger,
    LedgerStateError,
    RequestRecord,
    RequestStatus,
    StepOutcome,
    StepRecord,
    StepState,
    UnknownRequestError,
)
from worker.ledger.sql import Clock

__all__ = [
    "Claim",
    "ClaimOutcome",
    "Ledger",
    "LedgerStateError",
    "RequestRecord",
    "RequestStatus",
    "StepOutcome",
    "StepRecord",
    "StepState",
    "UnknownRequestError",
    "open_ledger",
]


def open_ledger(state_url: str, *, clock: Clock = time.time, connections: int = 8) -> Ledger:
    """Open the ledger at ``state_url`` (``sqlite:///PATH`` or ``postgresql://...``), upgraded.

    ``connections``: the PostgreSQL pool's size (the worker sizes it from its concurrency).
    The drivers are imported here so that using one variant never loads the other.
    """
    if state_url.startswith("sqlite:"):
        from worker.ledger.sqlite import SqliteLedger, sqlite_path

        return SqliteLedger(sqlite_path(state_url), clock=clock)
    if state_url.startswith(("postgresql://", "postgres://")):
        from worker.ledger.postgres import PostgresLedger

        return PostgresLedger(state_url, clock=clock, pool_size=connections)
    scheme = state_url.split(":", 1)[0]
    raise LedgerError(f"unsupported ledger URL scheme {scheme!r}: use sqlite:/// or postgresql://")

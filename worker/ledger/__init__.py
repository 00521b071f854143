"""The durable step ledger: one record per request, leases with fencing, SQLite or PostgreSQL."""

from __future__ import annotations

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
]

"""The part of a DB-API cursor the ledger uses; SQL is written with ``?`` placeholders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    """A cursor of either variant (sqlite3's own, or the PostgreSQL adapter)."""

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any:
        """Run one statement with ``?`` placeholders."""

    def fetchone(self) -> Any:
        """The next row, or ``None``."""

    def fetchall(self) -> list[Any]:
        """Every remaining row."""

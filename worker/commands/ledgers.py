"""How commands open the ledger (``DATAFLOW_STATE_URL``): never creating an empty one by mistake.

A SQLite URL whose file does not exist names a ledger nothing was ever written to. Opening it
would create an empty file there, and a command reading it would then see no dataflows where the
worker, run elsewhere, holds many: so :func:`missing_sqlite` spots it, and each command decides
what it means (an error for ``status``, ``enable``, ``audit``; "nothing recorded yet" for
``onboard``). A ledger that cannot be opened is a configuration error (exit 2).
"""

from __future__ import annotations

from pathlib import Path

from worker.errors import ConfigurationError, LedgerError
from worker.ledger import Ledger, open_ledger


def missing_sqlite(state_url: str) -> Path | None:
    """The file of a SQLite ledger URL that does not exist yet; None for anything else."""
    if not state_url.startswith("sqlite:///"):
        return None
    path = Path(state_url.removeprefix("sqlite:///"))
    return None if str(path) == ":memory:" or path.exists() else path


def open_recorded(state_url: str, purpose: str) -> Ledger:
    """The ledger at ``state_url``, which must exist; ``purpose`` says why it is needed."""
    path = missing_sqlite(state_url)
    if path is not None:
        raise ConfigurationError(
            f"no ledger at {path}: {purpose} reads the worker's ledger (set DATAFLOW_STATE_URL)"
        )
    return _opened(state_url, purpose)


def open_if_recorded(state_url: str, purpose: str) -> Ledger | None:
    """The ledger at ``state_url``, or None when it is a SQLite file that does not exist."""
    if missing_sqlite(state_url) is not None:
        return None
    return _opened(state_url, purpose)


def _opened(state_url: str, purpose: str) -> Ledger:
    try:
        return open_ledger(state_url)
    except LedgerError as error:  # its message never holds the URL's password
        message = f"{purpose} needs the ledger (DATAFLOW_STATE_URL): {error}"
        raise ConfigurationError(message) from None

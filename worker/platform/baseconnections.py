"""Base connections: what the Platform needs to reach a database, and how one is shown. Pure.

A base connection holds the database's address and credentials (for databases, one connection
string); source connections name a table of it. The Platform keeps the credentials and never
answers them back in clear, and nothing here ever shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from messages.connectors import find_connector

CONNECTION_STRING_AUTH = "Connection String Based Authentication"
SPEC_VERSION = "1.0"
Json = dict[str, Any]


def base_connection_body(name: str, connection_spec_id: str, connection_string: str) -> Json:
    """The body of ``POST /connections`` for a database reached by a connection string."""
    return {
        "name": name,
        "auth": {
            "specName": CONNECTION_STRING_AUTH,
            "params": {"connectionString": connection_string},
        },
        "connectionSpec": {"id": connection_spec_id, "version": SPEC_VERSION},
    }


def connection_row(item: Mapping[str, Any]) -> dict[str, str | None]:
    """What ``connections list`` shows of one base connection: never its auth params."""
    spec = item.get("connectionSpec")
    spec_id = spec.get("id") if isinstance(spec, Mapping) else None
    connector = find_connector(spec_id) if isinstance(spec_id, str) else None
    created = item.get("createdAt")
    return {
        "id": _text(item.get("id")),
        "name": _text(item.get("name")),
        "connector": connector.name if connector else None,
        "connection_spec_id": _text(spec_id),
        "state": _text(item.get("state")),
        "created": _iso(created) if isinstance(created, int | float) else None,
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _iso(epoch_ms: float) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")

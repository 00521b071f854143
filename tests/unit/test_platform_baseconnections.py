"""Base connection bodies and rows: a connection string goes in, never comes out. Pure."""

from __future__ import annotations

from worker.platform.baseconnections import base_connection_body, connection_row

MARIADB = "3000eb99-cd47-43f3-827c-43caf170f015"


def test_the_body_authenticates_by_connection_string_for_the_connectors_spec() -> None:
    body = base_connection_body("crm database", MARIADB, "Server=db;PWD=x")
    assert body == {
        "name": "crm database",
        "auth": {
            "specName": "Connection String Based Authentication",
            "params": {"connectionString": "Server=db;PWD=x"},
        },
        "connectionSpec": {"id": MARIADB, "version": "1.0"},
    }


def test_a_row_names_the_connector_and_leaves_the_auth_out() -> None:
    item = {
        "id": "c1",
        "name": "crm database",
        "connectionSpec": {"id": MARIADB, "version": "1.0"},
        "auth": {"params": {"connectionString": "Server=db;PWD=x"}},
        "state": "enabled",
        "createdAt": 1_700_000_000_000,
    }
    assert connection_row(item) == {
        "id": "c1",
        "name": "crm database",
        "connector": "mariadb",
        "connection_spec_id": MARIADB,
        "state": "enabled",
        "created": "2023-11-14T22:13:20Z",
    }


def test_a_row_of_an_unknown_or_incomplete_connection_still_reads() -> None:
    row = connection_row({"id": "c2", "connectionSpec": {"id": "not-a-known-spec"}})
    assert row["connector"] is None
    assert row["connection_spec_id"] == "not-a-known-spec"
    assert (row["name"], row["state"], row["created"]) == (None, None, None)

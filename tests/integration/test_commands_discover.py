"""`discover` against a real PostgreSQL and MariaDB: manifests that validate, globs, stable ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from messages import validate_request
from tests.integration.discovery_support import mariadb_source, postgres_source
from worker.cli import cli
from worker.onboarding.discovery import request_id

pytestmark = pytest.mark.integration

START = "1795000000"


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A fresh schema with four tables of varied column types."""
    with postgres_source(postgres_url) as schema:
        yield schema


def discover(*args: str) -> Result:
    """Run `discover` with a fixed start time."""
    return CliRunner().invoke(cli, ["discover", "--start-time", START, *args])


def columns_of(request: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str | None]]:
    """Each column's XDM type and meta type, by name."""
    return {c["name"]: (c["xdm"], c.get("meta_xdm_type")) for c in request["source"]["columns"]}


def test_a_postgresql_schema_becomes_a_manifest_that_validates_with_every_type_mapped(
    postgres_url: str, pg_schema: str, tmp_path: Path
) -> None:
    out = tmp_path / "manifest.yaml"
    args = ["--dsn", postgres_url, "--base-connection-id", "base-pg", "--schema", pg_schema]
    result = discover(*args, "-o", str(out))
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    requests = {r["source"]["table"]: r for r in document["requests"]}
    assert sorted(requests) == [f"{pg_schema}.{t}" for t in ("customers", "order_items", "orders")]
    for table, request in requests.items():
        parsed = validate_request(request)
        assert parsed.request_id == request_id("base-pg", table)
        assert parsed.source.connector == "postgresql"
        assert parsed.mapping_mode == "auto"
    customers = requests[f"{pg_schema}.customers"]
    assert customers["delta_column"]["name"] == "updated_at"
    assert columns_of(customers) == {
        "customer_id": ({"type": "integer"}, "long"),
        "email": ({"type": "string"}, None),
        "birth_date": ({"type": "string", "format": "date"}, "date"),
        "score": ({"type": "number"}, None),
        "ratio": ({"type": "number"}, "double"),
        "active": ({"type": "boolean"}, None),
        "tags": ({"type": "array", "items": {"type": "string"}}, None),
        "profile": ({"type": "string"}, None),
        "created_at": ({"type": "string", "format": "date-time"}, "date-time"),
        "updated_at": ({"type": "string", "format": "date-time"}, "date-time"),
    }
    assert requests[f"{pg_schema}.orders"]["delta_column"]["name"] == "placed_at"
    reason = "no timestamp column to use as the delta column"
    assert document["skipped"] == [{"table": f"{pg_schema}.country_codes", "reason": reason}]
    assert f"skipped {pg_schema}.country_codes" in result.stderr
    assert "photo: bytea is binary" in result.stderr


def test_a_mariadb_server_is_discovered_as_mariadb_through_the_mysql_driver(
    mariadb_url: str,
) -> None:
    with mariadb_source(mariadb_url) as dsn:
        result = discover("--dsn", dsn, "--base-connection-id", "base-my")
    assert result.exit_code == 0, result.stderr
    document = yaml.safe_load(result.stdout)
    requests = {r["source"]["table"].split(".")[1]: r for r in document["requests"]}
    assert sorted(requests) == ["contacts", "events"]
    contacts = requests["contacts"]
    validate_request(contacts)
    assert contacts["source"]["connector"] == "mariadb"
    assert contacts["delta_column"]["name"] == "modified"
    assert columns_of(contacts) == {
        "contact_id": ({"type": "string"}, None),
        "visits": ({"type": "integer"}, "long"),
        "tiny": ({"type": "integer"}, "byte"),
        "opted_in": ({"type": "boolean"}, None),
        "amount": ({"type": "number"}, None),
        "kind": ({"type": "string"}, None),
        "notes": ({"type": "string"}, None),
        "attrs": ({"type": "string"}, None),
        "modified": ({"type": "string", "format": "date-time"}, "date-time"),
    }


def test_include_and_exclude_globs_pick_the_tables_and_a_second_run_is_identical(
    postgres_url: str, pg_schema: str
) -> None:
    args = ["--dsn", postgres_url, "--base-connection-id", "base-pg", "--schema", pg_schema]
    filters = ["--include", "order*", "--include", "customers", "--exclude", "*_items"]
    first = discover(*args, *filters)
    second = discover(*args, *filters)
    assert first.exit_code == 0, first.output
    tables = [r["source"]["table"] for r in yaml.safe_load(first.stdout)["requests"]]
    assert tables == [f"{pg_schema}.customers", f"{pg_schema}.orders"]
    assert first.stdout == second.stdout


def test_a_connector_given_on_the_command_line_wins_over_the_server(
    postgres_url: str, pg_schema: str
) -> None:
    args = ["--dsn", postgres_url, "--base-connection-id", "b", "--schema", pg_schema]
    result = discover(*args, "--connector", "greenplum", "--include", "orders")
    assert result.exit_code == 0, result.output
    [request] = yaml.safe_load(result.stdout)["requests"]
    assert request["source"]["connector"] == "greenplum"


@pytest.mark.parametrize(
    ("dsn", "code", "message"),
    [
        ("postgresql://postgres@127.0.0.1:1/x", 1, "error: cannot read postgresql://"),
        ("mysql://root:secret@127.0.0.1:1/x", 1, "error: cannot read mysql://root:***@"),
        ("oracle://db/x", 2, "error: unsupported DSN scheme 'oracle'"),
        ("postgresql://postgres@127.0.0.1/x?nonsense=1", 2, "invalid URI query parameter"),
    ],
)
def test_a_database_that_cannot_be_read_is_one_readable_line(
    dsn: str, code: int, message: str
) -> None:
    result = discover("--dsn", dsn, "--base-connection-id", "b")
    assert result.exit_code == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "secret" not in result.stderr


def test_filters_that_leave_no_table_are_a_usage_error(postgres_url: str, pg_schema: str) -> None:
    args = ["--dsn", postgres_url, "--base-connection-id", "b", "--schema", pg_schema]
    result = discover(*args, "--include", "nothing_like_this*")
    assert result.exit_code == 2
    assert "matches the filters" in result.stderr

"""Discovery's pure core: SQL types to XDM, the delta column, table globs, requests, manifests."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from messages import validate_request
from worker.onboarding.discovery import (
    MappedType,
    SourceColumn,
    SourceTable,
    build_request,
    choose_delta_column,
    discover_tables,
    map_type,
    render_manifest,
    request_id,
    select_tables,
)
from worker.onboarding.manifest import parse_manifest
from worker.onboarding.requests import prepare

STRING: dict[str, Any] = {"type": "string"}


@pytest.mark.parametrize(
    ("sql_type", "element", "xdm", "meta"),
    [
        ("smallint", None, {"type": "integer"}, "short"),
        ("int2", None, {"type": "integer"}, "short"),
        ("integer", None, {"type": "integer"}, "int"),
        ("int(11)", None, {"type": "integer"}, "int"),
        ("int(10) unsigned", None, {"type": "integer"}, "long"),
        ("mediumint(9)", None, {"type": "integer"}, "int"),
        ("bigint", None, {"type": "integer"}, "long"),
        ("bigint(20) unsigned", None, STRING, None),
        ("tinyint(4)", None, {"type": "integer"}, "byte"),
        ("tinyint(1)", None, {"type": "boolean"}, None),
        ("boolean", None, {"type": "boolean"}, None),
        ("numeric(12,2)", None, {"type": "number"}, None),
        ("decimal(10,2)", None, {"type": "number"}, None),
        ("double precision", None, {"type": "number"}, "double"),
        ("real", None, {"type": "number"}, "double"),
        ("float", None, {"type": "number"}, "double"),
        ("date", None, {"type": "string", "format": "date"}, "date"),
        ("timestamp with time zone", None, {"type": "string", "format": "date-time"}, "date-time"),
        (
            "timestamp without time zone",
            None,
            {"type": "string", "format": "date-time"},
            "date-time",
        ),
        ("datetime(3)", None, {"type": "string", "format": "date-time"}, "date-time"),
        ("timestamp", None, {"type": "string", "format": "date-time"}, "date-time"),
        ("character varying(80)", None, STRING, None),
        ("varchar(254)", None, STRING, None),
        ("text", None, STRING, None),
        ("longtext", None, STRING, None),
        ("uuid", None, STRING, None),
        ("enum('a','b')", None, STRING, None),
        ("json", None, STRING, None),
        ("jsonb", None, STRING, None),
        ("time", None, STRING, None),
        ("text[]", "text", {"type": "array", "items": STRING}, None),
        ("int4[]", "int4", {"type": "array", "items": {"type": "integer"}}, None),
        (
            "timestamptz[]",
            "timestamptz",
            {"type": "array", "items": {"type": "string", "format": "date-time"}},
            None,
        ),
    ],
)
def test_a_sql_type_maps_to_its_xdm_type_and_width(
    sql_type: str, element: str | None, xdm: dict[str, Any], meta: str | None
) -> None:
    mapped = map_type(sql_type, element)
    assert (mapped.xdm, mapped.meta_xdm_type) == (xdm, meta)


@pytest.mark.parametrize("sql_type", ["bytea", "blob", "longblob", "varbinary(16)", "bytea[]"])
def test_a_binary_column_is_left_out_with_a_note(sql_type: str) -> None:
    mapped = map_type(sql_type)
    assert mapped.xdm is None
    assert mapped.note


def test_an_unknown_type_falls_back_to_string_with_a_note() -> None:
    mapped = map_type("tsvector")
    assert mapped.xdm == STRING
    assert mapped.note is not None
    assert "tsvector" in mapped.note


STAMP = MappedType({"type": "string", "format": "date-time"}, "date-time")
DAY = MappedType({"type": "string", "format": "date"}, "date")
TEXT = MappedType(STRING)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ([("created_at", STAMP), ("updated_at", STAMP)], "updated_at"),
        ([("Last_Modified", STAMP), ("created_at", STAMP)], "Last_Modified"),
        ([("created_at", STAMP), ("row_changed_ts", STAMP)], "row_changed_ts"),
        ([("created_at", STAMP), ("placed_at", STAMP)], "created_at"),
        ([("updated_at", TEXT), ("placed_at", STAMP)], "placed_at"),
        ([("updated_on", DAY), ("name", TEXT)], None),
    ],
)
def test_the_delta_column_is_a_timestamp_named_like_an_update_first(
    columns: list[tuple[str, MappedType]], expected: str | None
) -> None:
    assert choose_delta_column(columns) == expected


def table(schema: str, name: str, *columns: tuple[str, str]) -> SourceTable:
    """A table with columns given as (name, type)."""
    return SourceTable(schema, name, tuple(SourceColumn(n, t) for n, t in columns))


TABLES = [
    table("public", "customers", ("id", "bigint"), ("updated_at", "timestamp")),
    table("public", "orders", ("id", "bigint"), ("placed_at", "timestamp")),
    table("public", "order_items", ("id", "bigint"), ("updated_at", "timestamp")),
    table("crm", "contacts", ("id", "uuid"), ("modified", "timestamp")),
]


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ((), (), ["public.customers", "public.orders", "public.order_items", "crm.contacts"]),
        (("order*",), (), ["public.orders", "public.order_items"]),
        (("public.*",), ("*_items",), ["public.customers", "public.orders"]),
        (("crm.*", "customers"), (), ["public.customers", "crm.contacts"]),
        ((), ("public.*",), ["crm.contacts"]),
        (("nothing*",), (), []),
    ],
)
def test_include_and_exclude_globs_match_the_qualified_or_the_bare_name(
    include: tuple[str, ...], exclude: tuple[str, ...], expected: list[str]
) -> None:
    assert [t.qualified for t in select_tables(TABLES, include, exclude)] == expected


def test_a_request_id_is_tbl_and_32_hex_digits_of_the_sha256_of_base_and_table() -> None:
    digest = hashlib.sha256(b"base-1/public.customers").hexdigest()
    assert request_id("base-1", "public.customers") == f"tbl-{digest[:32]}"
    assert request_id("base-1", "public.customers") != request_id("base-2", "public.customers")


def test_a_table_becomes_a_valid_auto_mapped_request_without_its_binary_columns() -> None:
    source = table(
        "public",
        "products",
        ("sku", "varchar(40)"),
        ("photo", "bytea"),
        ("tags", "text[]"),
        ("last_modified", "timestamp with time zone"),
    )
    source = SourceTable(
        source.schema,
        source.name,
        tuple(
            SourceColumn(c.name, c.type, "text" if c.type == "text[]" else None)
            for c in source.columns
        ),
    )
    request, notes, reason = build_request(
        source, connector="postgresql", base_connection_id="base-1", start_time=1_795_000_000
    )
    assert reason is None
    assert request is not None
    parsed = validate_request(request)
    assert parsed.mapping_mode == "auto"
    assert parsed.delta_column.name == "last_modified"
    assert parsed.source.column_names == ["sku", "tags", "last_modified"]
    assert parsed.schedule.start_time == 1_795_000_000
    assert notes == ["public.products.photo: bytea is binary, which XDM cannot hold"]


def test_a_table_without_a_timestamp_column_is_skipped_with_the_reason() -> None:
    discovery = discover_tables(
        [table("public", "codes", ("code", "text"), ("valid_from", "date")), TABLES[0]],
        connector="postgresql",
        base_connection_id="base-1",
        start_time=0,
    )
    assert [s.table for s in discovery.skipped] == ["public.codes"]
    assert "delta column" in discovery.skipped[0].reason
    assert [r["source"]["table"] for r in discovery.requests] == ["public.customers"]


def test_a_rendered_manifest_reads_back_as_valid_requests_and_renders_the_same_again() -> None:
    def render() -> str:
        discovery = discover_tables(
            TABLES, connector="mariadb", base_connection_id="base-9", start_time=1_795_000_000
        )
        return render_manifest(discovery, origin="mariadb mysql://root@db/shop")

    text = render()
    items = parse_manifest(text, name="manifest.yaml")
    prepared, invalid = prepare(items, source="urn:test")
    assert invalid == []
    assert [p.request_id for p in prepared] == [request_id("base-9", t.qualified) for t in TABLES]
    assert render() == text

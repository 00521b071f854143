"""Catalog list queries: name and property filters, order, paging and projection (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.catalogquery import (
    QueryError,
    parse_name,
    parse_order,
    parse_property,
    parse_query,
    project,
    run,
)

NAMES = ["crm orders", "crm people", "crm*star", "web hits"]


@pytest.mark.parametrize(
    ("value", "matching"),
    [
        ("crm orders", ["crm orders"]),
        ("!crm orders", ["crm people", "crm*star", "web hits"]),
        ("crm orders,web hits", ["crm orders", "web hits"]),
        ("!crm orders,web hits", ["crm people", "crm*star"]),
        ("crm*", ["crm orders", "crm people", "crm*star"]),
        ("*s", ["crm orders", "web hits"]),
        ("crm**star", ["crm*star"]),
        ("crm**", []),
        ("", []),
    ],
)
def test_a_name_filter_matches_as_catalog_does(value: str, matching: list[str]) -> None:
    name_filter = parse_name(value)
    assert [n for n in NAMES if name_filter.matches(n)] == matching


@pytest.mark.parametrize(
    ("value", "exact"),
    [("crm orders", "crm orders"), ("a**b", "a*b"), ("a*", None), ("!a", None), ("a,b", None)],
)
def test_only_a_single_literal_name_is_an_exact_lookup(value: str, exact: str | None) -> None:
    assert parse_name(value).exact() == exact


ITEM: dict[str, Any] = {"name": "crm orders", "created": 1500, "enableErrorDiagnostics": False}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("name==crm orders", True),
        ("name==crm", False),
        ("name!=crm", True),
        ("name~^crm", True),
        ("name~people", False),
        ("created>1000", True),
        ("created<=1000", False),
        ("created>=1500", True),
        ("created<2000", True),
        ("enableErrorDiagnostics==false", True),
        ("name", True),
        ("!name", False),
        ("description", False),
        ("!description", True),
        ("description!=x", True),
        ("description==x", False),
    ],
)
def test_a_property_filter_tests_one_top_level_property(expression: str, expected: bool) -> None:
    assert parse_property(expression)(ITEM) is expected


@pytest.mark.parametrize("expression", ["schemaRef.id==x", "name~(", "==x", "!", "a b"])
def test_a_malformed_property_filter_is_refused(expression: str) -> None:
    with pytest.raises(QueryError):
        parse_property(expression)


@pytest.mark.parametrize(
    ("value", "order"),
    [
        ("name", (("name", False),)),
        ("asc:name,desc:created", (("name", False), ("created", True))),
        ("", ()),
    ],
)
def test_order_by_reads_directions_and_keys(value: str, order: tuple[Any, ...]) -> None:
    assert parse_order(value) == order


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": ["0"]}, "between 1 and 100"),
        ({"limit": ["101"]}, "between 1 and 100"),
        ({"limit": ["x"]}, "between 1 and 100"),
        ({"start": ["-1"]}, "start"),
        ({"orderBy": ["up:name"]}, "orderBy"),
        ({"createdAfter": ["soon"]}, "createdAfter"),
    ],
)
def test_bad_parameters_are_refused_with_the_range(
    params: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(params)


def test_defaults_are_twenty_from_the_start_with_every_property() -> None:
    query = parse_query({})
    assert (query.limit, query.start, query.properties, query.name) == (20, 0, None, None)


def test_run_filters_orders_and_pages() -> None:
    items = [(str(i), {"name": name, "created": i}) for i, name in enumerate(NAMES)]
    query = parse_query({"name": ["crm*"], "orderBy": ["desc:created"], "limit": ["2"]})
    assert [key for key, _ in run(items, query)] == ["2", "1"]
    query = parse_query({"name": ["crm*"], "orderBy": ["desc:created"], "start": ["2"]})
    assert [key for key, _ in run(items, query)] == ["0"]


def test_created_bounds_are_exclusive() -> None:
    items = [(str(i), {"name": "x", "created": i}) for i in range(5)]
    query = parse_query({"createdAfter": ["1"], "createdBefore": ["4"]})
    assert [key for key, _ in run(items, query)] == ["2", "3"]


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        (None, {"name": "a", "tags": {}, "created": 1}),
        (("name",), {"name": "a"}),
        (("name", "missing"), {"name": "a"}),
    ],
)
def test_projection_keeps_only_the_requested_keys(
    properties: tuple[str, ...] | None, expected: dict[str, Any]
) -> None:
    assert project({"name": "a", "tags": {}, "created": 1}, properties) == expected


TAGGED: dict[str, Any] = {"tags": {"unifiedProfile": ["enabled:true"], "adobe/pqs/table": ["t"]}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("unifiedProfile:enabled:true", True),
        ("unifiedProfile:*", True),
        ("unifiedProfile:enabled:false", False),
        ("unifiedIdentity:*", False),
        ("unifiedProfile:*,adobe/pqs/table:t", True),
        ("unifiedProfile:*,adobe/pqs/table:u", False),
    ],
)
def test_a_tags_filter_needs_every_listed_tag(value: str, expected: bool) -> None:
    query = parse_query({"tags": [value]})
    assert query.keep(TAGGED) is expected


@pytest.mark.parametrize("value", ["unifiedProfile", ":x", "a:"])
def test_a_malformed_tags_filter_is_refused(value: str) -> None:
    with pytest.raises(QueryError, match="tags"):
        parse_query({"tags": [value]})


def test_asking_for_the_observable_schema_caps_the_page_at_twenty() -> None:
    assert parse_query({"properties": ["name,observableSchema"], "limit": ["100"]}).limit == 20
    assert parse_query({"properties": ["name"], "limit": ["100"]}).limit == 100

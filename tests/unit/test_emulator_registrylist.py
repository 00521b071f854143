"""Schema Registry list queries: filters, order, paging (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.registrylist import (
    MAX_RESULTS,
    ListQueryError,
    paginate,
    parse_conditions,
    parse_orderby,
    parse_query,
    select,
)

ITEM: dict[str, Any] = {
    "title": "crm a, b",
    "meta:intendedToExtend": ["https://ns.adobe.com/xdm/context/profile"],
    "meta:abstract": True,
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("title==crm a, b", True),
        ('title=="crm a, b"', True),
        ("title==crm a", False),
        ("title!=crm a", True),
        ("title~^crm", True),
        ("meta:intendedToExtend==https://ns.adobe.com/xdm/context/profile", True),
        ("meta:intendedToExtend!=https://ns.adobe.com/xdm/context/profile", False),
        ("meta:abstract==true", True),
        ("title~^crm,meta:abstract==false", False),
        ("title==crm a, b,meta:abstract==true", True),
    ],
)
def test_every_condition_must_hold(expression: str, expected: bool) -> None:
    conditions = parse_conditions([expression])
    assert all(c.matches(ITEM) for c in conditions) is expected


@pytest.mark.parametrize("expression", ["title", "title<3", "title~(", "=="])
def test_a_malformed_filter_is_refused(expression: str) -> None:
    with pytest.raises(ListQueryError):
        parse_conditions([expression])


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("title", (("title", False),)),
        ("-title,+version", (("title", True), ("version", False))),
        ("", ()),
    ],
)
def test_orderby_reads_signs(text: str, keys: tuple[Any, ...]) -> None:
    assert parse_orderby(text) == keys


@pytest.mark.parametrize(
    ("limit", "page_size"), [(None, MAX_RESULTS), ("0", MAX_RESULTS), ("2", 2), ("500", 300)]
)
def test_a_page_holds_at_most_300_results(limit: str | None, page_size: int) -> None:
    params = {"limit": [limit]} if limit is not None else {}
    assert parse_query(params).limit == page_size


@pytest.mark.parametrize("params", [{"limit": ["501"]}, {"limit": ["x"]}, {"start": ["-3"]}])
def test_bad_paging_parameters_are_refused(params: dict[str, list[str]]) -> None:
    with pytest.raises(ListQueryError):
        parse_query(params)


def test_exact_finds_the_value_an_index_can_serve() -> None:
    query = parse_query({"property": ["title==x", "title!=y"]})
    assert query.exact("title") == "x"
    assert query.exact("meta:altId") is None


def test_select_orders_case_insensitively_and_paginate_hands_out_the_next_start() -> None:
    items = [{"title": t} for t in ("b", "C", "a", "d")]
    chosen = select(items, parse_query({"orderby": ["title"]}))
    assert [i["title"] for i in chosen] == ["a", "b", "C", "d"]
    first = paginate(chosen, parse_query({"limit": ["3"]}))
    assert (len(first.items), first.next_start) == (3, 3)
    last = paginate(chosen, parse_query({"limit": ["3"], "start": ["3"]}))
    assert (len(last.items), last.next_start) == (1, None)

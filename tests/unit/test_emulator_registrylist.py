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


def test_select_orders_case_insensitively() -> None:
    items = [{"title": t} for t in ("b", "C", "a", "d")]
    chosen = select(items, parse_query({"orderby": ["title"]}))
    assert [i["title"] for i in chosen] == ["a", "b", "C", "d"]


def _walk(items: list[dict[str, Any]], params: dict[str, list[str]]) -> list[list[str]]:
    """Every page's titles, feeding ``_page.next`` back as ``start`` as the guide says."""
    pages: list[list[str]] = []
    start: str | None = None
    while True:
        query = parse_query({**params, **({"start": [start]} if start is not None else {})})
        page = paginate(select(items, query), query)
        pages.append([str(i["title"]) for i in page.items])
        if page.next_start is None:
            return pages
        start = page.next_start


def test_with_orderby_start_is_the_last_primary_value_and_next_pages_follow_it() -> None:
    items = [{"title": t} for t in ("b", "C", "a", "d", "e")]
    assert _walk(items, {"orderby": ["title"], "limit": ["2"]}) == [["a", "b"], ["C", "d"], ["e"]]
    query = parse_query({"orderby": ["title"], "limit": ["2"]})
    assert paginate(select(items, query), query).next_start == "b"
    assert _walk(items, {"orderby": ["-title"], "limit": ["3"]}) == [["e", "d", "C"], ["b", "a"]]


def test_a_start_value_of_the_clients_own_choosing_begins_after_it() -> None:
    items = [{"title": t} for t in ("apple", "banana", "cherry")]
    query = parse_query({"orderby": ["title"], "start": ["b"]})
    assert [i["title"] for i in paginate(select(items, query), query).items] == ["banana", "cherry"]


def test_a_page_runs_past_the_limit_while_results_share_the_primary_value() -> None:
    items = [{"title": f"t{n}", "meta:class": c} for n, c in enumerate("aaabbc")]
    pages = _walk(items, {"orderby": ["meta:class", "title"], "limit": ["2"]})
    assert pages == [["t0", "t1", "t2"], ["t3", "t4"], ["t5"]]


def test_without_orderby_start_is_an_offset() -> None:
    items = [{"title": t} for t in ("b", "C", "a", "d")]
    first = paginate(items, parse_query({"limit": ["3"]}))
    assert (len(first.items), first.next_start) == (3, "3")
    last = paginate(items, parse_query({"limit": ["3"], "start": ["3"]}))
    assert (len(last.items), last.next_start) == (1, None)

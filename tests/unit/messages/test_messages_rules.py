"""The cross-field rules, as pure functions over plain facts."""

from __future__ import annotations

from typing import Any

import pytest

from messages.rules import column_rules, request_rules, schedule_rules, xdm_rules


def paths(rules: Any) -> list[str]:
    """The locations of broken rules, dotted."""
    return [".".join(str(p) for p in loc) for loc, _ in rules]


@pytest.mark.parametrize(
    ("frequency", "interval", "backfill", "broken"),
    [
        ("once", None, None, []),
        ("once", 15, None, ["interval"]),
        ("once", None, False, ["backfill"]),
        ("once", 1, True, ["interval", "backfill"]),
        ("minute", 15, True, []),
        ("minute", 14, None, ["interval"]),
        ("minute", None, None, ["interval"]),
        ("hour", 1, None, []),
        ("day", None, True, ["interval"]),
        ("week", 52, False, []),
        ("fortnight", 3, None, []),  # an unknown frequency is the field's own error
        ("minute", "fifteen", None, []),  # so is an interval that is no integer
    ],
)
def test_a_schedule_follows_the_flow_specs_interval_rules(
    frequency: Any, interval: Any, backfill: Any, broken: list[str]
) -> None:
    assert paths(schedule_rules(frequency, interval, backfill)) == broken


@pytest.mark.parametrize(
    ("kind", "has_format", "has_items", "broken"),
    [
        ("string", True, False, []),
        ("string", False, True, ["items"]),
        ("number", True, False, ["format"]),
        ("array", False, True, []),
        ("array", False, False, ["items"]),
        ("array", True, True, ["format"]),
        (None, True, True, []),
    ],
)
def test_formats_belong_to_strings_and_items_to_arrays(
    kind: Any, has_format: bool, has_items: bool, broken: list[str]
) -> None:
    assert paths(xdm_rules(kind, has_format, has_items)) == broken


@pytest.mark.parametrize(
    ("names", "broken"),
    [
        (["a", "b"], []),
        (["a", "b", "a", "a"], ["columns.2.name", "columns.3.name"]),
        (["a", None, "a"], ["columns.2.name"]),
    ],
)
def test_a_column_name_may_appear_only_once(names: list[Any], broken: list[str]) -> None:
    assert paths(column_rules(names)) == broken


COLUMNS = ["id", "name", "updated"]


@pytest.mark.parametrize(
    ("delta", "mappings", "mode", "broken"),
    [
        ("updated", [("id", "_id")], None, []),
        ("updated", [("id", "_id")], "explicit", []),
        ("changed", [("id", "_id")], None, ["delta_column.name"]),
        ("updated", [("ident", "_id"), ("name", "x")], None, ["mappings.0.source"]),
        ("updated", [("id", "_id"), ("name", "_id")], None, ["mappings.1.destination"]),
        ("updated", [], None, ["mappings"]),
        ("updated", [], "auto", []),
        ("updated", [("id", "_id")], "auto", ["mappings"]),
        ("updated", None, None, []),  # mappings that are no list are the field's own error
        (7, [(None, None)], None, []),
    ],
)
def test_mappings_and_the_delta_column_refer_to_columns(
    delta: Any, mappings: list[tuple[Any, Any]] | None, mode: Any, broken: list[str]
) -> None:
    assert paths(request_rules(COLUMNS, delta, mappings, mode)) == broken


def test_a_wrong_column_reference_lists_the_columns() -> None:
    [(_, message)] = request_rules(COLUMNS, "changed", [("id", "_id")], None)
    assert message == "'changed' is not a column (columns: 'id', 'name', 'updated')"

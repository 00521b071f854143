"""The cross-field rules of a request as pure functions over plain facts, and as JSON Schema.

Each rule takes the facts it needs (names, kinds, counts) rather than a model, so the same code
checks a validated model in the fast path and the raw input of an invalid message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from messages.base import Rule

MIN_INTERVAL: dict[str, int] = {"minute": 15, "hour": 1, "day": 1, "week": 1}
"""The least interval of each repeating frequency (the CRMToAEP flow spec's schedule schema)."""


def xdm_rules(kind: Any, has_format: bool, has_items: bool) -> Iterator[Rule]:
    """A format only on strings; items on arrays and only there."""
    if has_format and kind not in (None, "string"):
        yield ("format",), f"a format applies to strings only, not to {kind}"
    if kind == "array" and not has_items:
        yield ("items",), "an array needs items (the XDM type of its elements)"
    if has_items and kind not in (None, "array"):
        yield ("items",), f"items apply to arrays only, not to {kind}"


def column_rules(names: Sequence[Any]) -> Iterator[Rule]:
    """Column names are unique."""
    seen: set[str] = set()
    for index, name in enumerate(names):
        if isinstance(name, str):
            if name in seen:
                yield ("columns", index, "name"), f"column {name!r} is listed twice"
            seen.add(name)


def schedule_rules(frequency: Any, interval: Any, backfill: Any) -> Iterator[Rule]:
    """`once` forbids interval and backfill; other frequencies need an interval (minimums)."""
    if frequency == "once":
        if interval is not None:
            yield ("interval",), "a schedule that runs once takes no interval"
        if backfill is not None:
            yield ("backfill",), "a schedule that runs once takes no backfill"
    elif isinstance(frequency, str) and frequency in MIN_INTERVAL:
        least = MIN_INTERVAL[frequency]
        if interval is None:
            yield ("interval",), f"frequency {frequency} needs an interval (>= {least})"
        elif isinstance(interval, int) and 1 <= interval < least:
            yield ("interval",), f"frequency {frequency} needs an interval >= {least}"


def request_rules(
    columns: Sequence[Any],
    delta_column: Any,
    mappings: Sequence[tuple[Any, Any]] | None,
    mode: Any,
) -> Iterator[Rule]:
    """Mappings and the delta column refer to columns; explicit mode needs mappings, auto none.

    `mappings` is None when it is not a list at all (that is reported on its own).
    """
    known = {name for name in columns if isinstance(name, str)}
    listing = ", ".join(repr(name) for name in columns if isinstance(name, str))
    pairs = mappings or []
    if (mode or "explicit") == "explicit" and mappings is not None and not pairs:
        yield ("mappings",), "mappings are required unless mapping_mode is auto"
    if mode == "auto" and pairs:
        yield ("mappings",), "mapping_mode auto generates the mappings; give none"
    if not known:  # the columns are themselves invalid; that is reported on its own
        return
    destinations: set[str] = set()
    for index, (source, destination) in enumerate(pairs):
        if isinstance(source, str) and source not in known:
            yield ("mappings", index, "source"), f"{source!r} is not a column (columns: {listing})"
        if isinstance(destination, str):
            if destination in destinations:
                message = f"{destination!r} is the destination of an earlier mapping too"
                yield ("mappings", index, "destination"), message
            destinations.add(destination)
    if isinstance(delta_column, str) and delta_column not in known:
        message = f"{delta_column!r} is not a column (columns: {listing})"
        yield ("delta_column", "name"), message


def when(
    condition: dict[str, Any],
    then: dict[str, Any] | None = None,
    otherwise: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON Schema if/then/else on properties: how a cross-field rule reads in the schemas."""
    rule: dict[str, Any] = {"if": {"properties": condition, "required": list(condition)}}
    if then is not None:
        rule["then"] = then
    if otherwise is not None:
        rule["else"] = otherwise
    return rule


def absent(*names: str) -> dict[str, Any]:
    """A JSON Schema saying these properties are absent (or null)."""
    return {"properties": {name: {"type": "null"} for name in names}}


def interval_at_least(least: int) -> dict[str, Any]:
    """A JSON Schema requiring an integer interval of at least `least`."""
    interval = {"type": "integer", "minimum": least}
    return {"required": ["interval"], "properties": {"interval": interval}}


XDM_SCHEMA_RULES: dict[str, Any] = {
    "allOf": [
        when({"type": {"const": "string"}}, otherwise=absent("format")),
        when({"type": {"const": "array"}}, {"required": ["items"]}, absent("items")),
    ]
}
SCHEDULE_SCHEMA_RULES: dict[str, Any] = {
    "allOf": [
        when({"frequency": {"const": "once"}}, absent("interval", "backfill")),
        when({"frequency": {"const": "minute"}}, interval_at_least(15)),
        when({"frequency": {"enum": ["hour", "day", "week"]}}, interval_at_least(1)),
    ]
}
REQUEST_SCHEMA_RULES: dict[str, Any] = {
    "allOf": [
        when(
            {"mapping_mode": {"const": "auto"}},
            {"properties": {"mappings": {"maxItems": 0}}},
            {"required": ["mappings"], "properties": {"mappings": {"minItems": 1}}},
        )
    ]
}

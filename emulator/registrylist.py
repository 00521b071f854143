"""Schema Registry list queries: ``property=`` filters, ``orderby``, ``start``/``limit`` paging.

Pure. A page holds at most 300 results (the registry's cap); ``limit`` is a hint below that.
Paging follows the registry's guide: with ``orderby``, ``start`` is a value of the primary sort
property and the page begins after it (strictly greater ascending, strictly less descending);
``_page.next`` hands out the primary value of the page's last result, and a page runs on past
``limit`` while the next result shares that value, so no result is skipped. Without ``orderby``
(the guide requires one; clients such as aepp send none) ``start`` is an offset, and
``_page.next`` the next page's offset. Filters compare top-level properties: ``title==X``,
``title!=X``, ``meta:intendedToExtend==<class>`` (a list property matches when it contains the
value), ``title~regex``, and several expressions separated by commas (a comma inside a value is
kept: only a comma followed by ``<name><operator>`` splits).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_RESULTS = 300

_EXPRESSION = re.compile(r"^\s*(?P<key>[\w:@.$-]+?)\s*(?P<op>==|!=|~)\s*(?P<value>.*?)\s*$")
_SPLIT = re.compile(r",(?=\s*[\w:@.$-]+\s*(?:==|!=|~))")


class ListQueryError(ValueError):
    """A list query the registry refuses (bad filter, orderby, start or limit)."""


@dataclass(frozen=True)
class Condition:
    """One filter expression on a top-level property."""

    key: str
    op: str
    value: str

    def matches(self, item: Mapping[str, Any]) -> bool:
        """Whether the item satisfies this expression."""
        actual = item.get(self.key)
        values = actual if isinstance(actual, list) else [actual]
        texts = [_text(v) for v in values if v is not None]
        if self.op == "==":
            return self.value in texts
        if self.op == "!=":
            return self.value not in texts
        pattern = re.compile(self.value)
        return any(pattern.search(text) for text in texts)


@dataclass(frozen=True)
class ListQuery:
    """A parsed list request."""

    conditions: tuple[Condition, ...] = ()
    orderby: tuple[tuple[str, bool], ...] = ()  # (key, descending)
    orderby_text: str = ""
    start: str | None = None  # a primary sort value with orderby, else an offset
    limit: int = MAX_RESULTS

    def exact(self, key: str) -> str | None:
        """The value of the first ``key==value`` condition, for an indexed lookup."""
        for condition in self.conditions:
            if condition.key == key and condition.op == "==":
                return condition.value
        return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_conditions(expressions: Iterable[str]) -> tuple[Condition, ...]:
    """Parse every ``property=`` parameter value into conditions (all must hold)."""
    conditions: list[Condition] = []
    for expression in expressions:
        for part in _SPLIT.split(expression):
            match = _EXPRESSION.match(part)
            if match is None:
                raise ListQueryError(f"Invalid property filter: {part}")
            value = _unquote(match["value"])
            if match["op"] == "~":
                try:
                    re.compile(value)
                except re.error as error:
                    raise ListQueryError(f"Invalid regular expression {value!r}: {error}") from None
            conditions.append(Condition(match["key"], match["op"], value))
    return tuple(conditions)


def parse_orderby(text: str) -> tuple[tuple[str, bool], ...]:
    """``-title,version`` -> ``(("title", True), ("version", False))``."""
    keys: list[tuple[str, bool]] = []
    for raw in text.split(","):
        key = raw.strip()
        if not key:
            continue
        descending = key.startswith("-")
        key = key.lstrip("+-").strip()
        if not re.fullmatch(r"[\w:@.$-]+", key):
            raise ListQueryError(f"Invalid orderby field: {raw}")
        keys.append((key, descending))
    return tuple(keys)


def _integer(name: str, text: str | None, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ListQueryError(f"{name} must be an integer between {low} and {high}") from None
    if not low <= value <= high:
        raise ListQueryError(f"{name} must be an integer between {low} and {high}")
    return value


def parse_query(params: Mapping[str, Sequence[str]]) -> ListQuery:
    """Parse the query parameters of a list request (each name maps to all its values)."""
    orderby_text = ",".join(params.get("orderby", ()))
    orderby = parse_orderby(orderby_text)
    limit = _integer("limit", _first(params, "limit"), MAX_RESULTS, 0, 500)
    start = _first(params, "start")
    if not orderby and start is not None:
        start = str(_integer("start", start, 0, 0, 2**31))
    return ListQuery(
        conditions=parse_conditions(params.get("property", ())),
        orderby=orderby,
        orderby_text=orderby_text,
        start=start or None,
        limit=min(limit or MAX_RESULTS, MAX_RESULTS),
    )


def _first(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _sort_key(item: Mapping[str, Any], key: str) -> tuple[int, str]:
    value = item.get(key)
    return (0, "") if value is None else (1, _text(value).casefold())


def select(items: Iterable[Mapping[str, Any]], query: ListQuery) -> list[Mapping[str, Any]]:
    """The items that match every condition, in the requested order (stable)."""
    chosen = [item for item in items if all(c.matches(item) for c in query.conditions)]
    for key, descending in reversed(query.orderby):
        chosen.sort(key=functools.partial(_sort_key, key=key), reverse=descending)
    return chosen


@dataclass(frozen=True)
class Page:
    """One page of results and the ``start`` of the next page (None on the last)."""

    items: list[Mapping[str, Any]]
    next_start: str | None


def paginate(items: Sequence[Mapping[str, Any]], query: ListQuery) -> Page:
    """Cut one page out of the selected (and ordered) items."""
    if not query.orderby:
        offset = int(query.start or 0)
        end = offset + query.limit
        return Page(list(items[offset:end]), str(end) if end < len(items) else None)
    key, descending = query.orderby[0]
    rest = _after(items, key, descending, query.start)
    end = min(query.limit, len(rest))
    while 0 < end < len(rest) and _sort_key(rest[end], key) == _sort_key(rest[end - 1], key):
        end += 1  # the next start must not fall between results that share a value
    if end == len(rest):
        return Page(rest, None)
    return Page(rest[:end], _text(rest[end - 1].get(key, "")))


def _after(
    items: Sequence[Mapping[str, Any]], key: str, descending: bool, start: str | None
) -> list[Mapping[str, Any]]:
    """The items whose primary sort value comes strictly after ``start`` in the list's order."""
    if start is None:
        return list(items)
    bound = (1, start.casefold())
    if descending:
        return [item for item in items if _sort_key(item, key) < bound]
    return [item for item in items if _sort_key(item, key) > bound]

"""Catalog list queries: ``name=`` and ``property=`` filters, ``orderBy``, paging, projection.

Pure. ``name=`` takes a list of alternatives separated by ``,`` (OR), negated as a whole by a
leading ``!``; ``*`` matches any run of characters and ``**`` is a literal ``*``. ``property=``
takes one expression on a top-level property: ``key==v``, ``key!=v``, ``key~regex``,
``key<v`` (and ``<=``, ``>``, ``>=``), ``key`` (exists) or ``!key`` (does not exist); repeated
parameters all have to hold. ``limit`` is 1 to 100 (default 20), ``start`` an offset,
``orderBy`` ``asc:name,desc:created`` and ``properties`` a list of top-level keys to return
(at most 20 datasets when it includes ``observableSchema``); ``tags=ns:v,ns2:*`` and
``createdAfter``/``createdBefore`` (epoch ms, exclusive) filter too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
OBSERVABLE_SCHEMA_LIMIT = 20  # the service answers at most this many with observableSchema

Item = Mapping[str, Any]
Predicate = Callable[[Item], bool]

_PROPERTY = re.compile(r"^(?P<key>[^=!<>~]+?)(?P<op>==|!=|<=|>=|<|>|~)(?P<value>.*)$")
_KEY = re.compile(r"^[\w:@.$-]+$")


class QueryError(ValueError):
    """A Catalog list query that the service refuses."""


@dataclass(frozen=True)
class NameFilter:
    """A parsed ``name=`` filter: alternatives, each literal or a wildcard pattern."""

    negated: bool
    literals: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]

    def matches(self, name: object) -> bool:
        """Whether a dataset name passes this filter."""
        text = name if isinstance(name, str) else ""
        hit = text in self.literals or any(p.fullmatch(text) for p in self.patterns)
        return hit != self.negated

    def exact(self) -> str | None:
        """The one exact name this filter asks for (for an indexed lookup), if that is all."""
        if self.negated or self.patterns or len(self.literals) != 1:
            return None
        return next(iter(self.literals))


def _alternative(text: str) -> tuple[str, re.Pattern[str] | None]:
    """One alternative: (literal, None) without wildcards, else (text, compiled pattern)."""
    pieces: list[str] = []
    literal: list[str] = []
    wild = False
    i = 0
    while i < len(text):
        if text.startswith("**", i):
            literal.append("*")
            pieces.append(re.escape("*"))
            i += 2
        elif text[i] == "*":
            wild = True
            pieces.append(".*")
            i += 1
        else:
            literal.append(text[i])
            pieces.append(re.escape(text[i]))
            i += 1
    if not wild:
        return "".join(literal), None
    return text, re.compile("".join(pieces), re.DOTALL)


def parse_name(value: str) -> NameFilter:
    """Parse a ``name=`` filter value."""
    negated = value.startswith("!")
    body = value[1:] if negated else value
    literals: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for alternative in body.split(","):
        literal, pattern = _alternative(alternative)
        if pattern is None:
            literals.add(literal)
        else:
            patterns.append(pattern)
    return NameFilter(negated, frozenset(literals), tuple(patterns))


def _compare(op: str, actual: Any, expected: str) -> bool:
    if actual is None:
        return op == "!="
    if op in ("==", "!="):
        equal = _text(actual) == expected
        return equal if op == "==" else not equal
    if op == "~":
        return re.search(expected, _text(actual)) is not None
    left, right = _ordered(actual, expected)
    results = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}
    return bool(results[op])


def _ordered(actual: Any, expected: str) -> tuple[Any, Any]:
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        try:
            return float(actual), float(expected)
        except ValueError:
            pass
    return _text(actual), expected


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_property(expression: str) -> Predicate:
    """Parse one ``property=`` expression into a predicate on a dataset."""
    text = expression.strip()
    match = _PROPERTY.match(text)
    if match is None:
        negated = text.startswith("!")
        key = text[1:] if negated else text
        if not _KEY.match(key):
            raise QueryError(f"Invalid property filter: {expression}")
        return lambda item: (key in item) != negated
    key, op, value = match["key"].strip(), match["op"], match["value"].strip()
    if not _KEY.match(key) or "." in key:
        raise QueryError(f"property filters apply to top-level properties only: {expression}")
    if op == "~":
        try:
            re.compile(value)
        except re.error as error:
            raise QueryError(f"Invalid regular expression in {expression}: {error}") from None
    return lambda item: _compare(op, item.get(key), value)


def parse_order(value: str) -> tuple[tuple[str, bool], ...]:
    """``asc:name,desc:created`` (or ``name``) -> ``(("name", False), ("created", True))``."""
    keys: list[tuple[str, bool]] = []
    for raw in value.split(","):
        part = raw.strip()
        if not part:
            continue
        direction, _, key = part.rpartition(":")
        if direction not in ("", "asc", "desc") or not _KEY.match(key):
            raise QueryError(f"Invalid orderBy: {raw}; use asc:<field> or desc:<field>")
        keys.append((key, direction == "desc"))
    return tuple(keys)


def _bounded(name: str, text: str | None, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise QueryError(f"{name} must be an integer between {low} and {high}, got {text!r}")
    return value


@dataclass(frozen=True)
class CatalogQuery:
    """A parsed list request."""

    name: NameFilter | None = None
    predicates: tuple[Predicate, ...] = ()
    order: tuple[tuple[str, bool], ...] = ()
    start: int = 0
    limit: int = DEFAULT_LIMIT
    properties: tuple[str, ...] | None = None
    extra: tuple[Predicate, ...] = field(default=())

    def keep(self, item: Item) -> bool:
        """Whether an item passes every filter."""
        if self.name is not None and not self.name.matches(item.get("name")):
            return False
        return all(p(item) for p in (*self.predicates, *self.extra))


def _created(op: str, text: str) -> Predicate:
    try:
        bound = int(text)
    except ValueError:
        raise QueryError(f"created{op} must be epoch milliseconds, got {text!r}") from None
    if op == "After":
        return lambda item: int(item.get("created") or 0) > bound
    return lambda item: int(item.get("created") or 0) < bound


def parse_tags(value: str) -> Predicate:
    """``tags=ns:value,ns2:*``: every listed tag must be present with that value (``*``: any)."""
    wanted: list[tuple[str, str]] = []
    for raw in value.split(","):
        name, sep, tag_value = raw.strip().partition(":")
        if not sep or not name or not tag_value:
            raise QueryError(f"Invalid tags filter {raw!r}; use <tag>:<value> or <tag>:*")
        wanted.append((name, tag_value))

    def has_tags(item: Item) -> bool:
        tags = item.get("tags") or {}
        return all(
            name in tags and (tag_value == "*" or tag_value in tags[name])
            for name, tag_value in wanted
        )

    return has_tags


def parse_query(params: Mapping[str, Sequence[str]]) -> CatalogQuery:
    """Parse the query parameters of ``GET /dataSets`` (each name maps to all its values)."""

    def first(name: str) -> str | None:
        values = params.get(name)
        return values[-1] if values else None

    names = first("name")
    properties = first("properties")
    extra = tuple(
        _created(op, bound)
        for op in ("After", "Before")
        if (bound := first(f"created{op}")) is not None
    )
    tags = first("tags")
    if tags is not None:
        extra = (*extra, parse_tags(tags))
    chosen = (
        tuple(p.strip() for p in properties.split(",") if p.strip())
        if properties is not None
        else None
    )
    limit = _bounded("limit", first("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
    if chosen is not None and "observableSchema" in chosen:
        limit = min(limit, OBSERVABLE_SCHEMA_LIMIT)
    return CatalogQuery(
        name=parse_name(names) if names is not None else None,
        predicates=tuple(parse_property(p) for p in params.get("property", ())),
        order=parse_order(first("orderBy") or ""),
        start=_bounded("start", first("start"), 0, 0, 2**31),
        limit=limit,
        properties=chosen,
        extra=extra,
    )


def _sort_key(item: Item, key: str) -> tuple[int, Any]:
    value = item.get(key)
    if value is None:
        return (0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, value)
    return (2, _text(value).casefold())


def _pair_key(pair: tuple[str, Item], key: str) -> tuple[int, Any]:
    return _sort_key(pair[1], key)


def run(items: Iterable[tuple[str, Item]], query: CatalogQuery) -> list[tuple[str, Item]]:
    """Filter, order and page ``(id, item)`` pairs."""
    chosen = [(key, item) for key, item in items if query.keep(item)]
    for key, descending in reversed(query.order):
        chosen.sort(key=functools.partial(_pair_key, key=key), reverse=descending)
    return chosen[query.start : query.start + query.limit]


def project(item: Item, properties: tuple[str, ...] | None) -> dict[str, Any]:
    """The item cut down to the requested top-level properties (all when None)."""
    if properties is None:
        return dict(item)
    return {key: item[key] for key in properties if key in item}

"""Flow Service list queries: ``property=`` filters, ``orderby`` and ``limit`` (paging: flowpaging).

Pure: parsing raises ``QueryError`` with the Flow Service error code; the service turns it into
its error response.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from emulator.refusal import RefusedRequestError

_EXPRESSION = re.compile(r"^(?P<path>[^=!<>~]+?)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<value>.*)$")
_SORTABLE = frozenset({"name", "createdAt", "updatedAt", "id", "state", "flowId"})


class QueryError(RefusedRequestError):
    """A list query the service refuses; ``code`` is the Flow Service error code."""


@dataclass(frozen=True)
class Condition:
    """One ``property=`` expression: a dotted path, an operator and the values it accepts."""

    path: tuple[str, ...]
    op: str
    values: tuple[str, ...] = ()


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _split_path(path: str) -> tuple[str, ...]:
    return tuple(part.removesuffix("[]") for part in path.strip().split(".") if part)


def parse_property(expression: str) -> Condition:
    """Parse one ``property=`` value (``name=="x"``, ``state==a,b``, ``!description``, ...)."""
    text = expression.strip()
    if "~" in text:
        raise QueryError(1440, f"Operator '~' is not implemented: {expression}")
    if "!>" in text or "!<" in text:
        raise QueryError(1450, f"Invalid operator in property filter: {expression}")
    match = _EXPRESSION.match(text)
    if match is None:
        if not text or any(c in text for c in "=<>"):
            raise QueryError(1400, f"Invalid property filter: {expression}")
        if text.startswith("!"):
            return Condition(_split_path(text[1:]), "absent")
        return Condition(_split_path(text), "present")
    op = match["op"]
    values = tuple(_unquote(v) for v in match["value"].split(","))
    if op not in ("==", "!=") and len(values) > 1:
        raise QueryError(1443, f"Operator '{op}' takes a single value: {expression}")
    if not match["path"].strip() or any(v == "" for v in values):
        raise QueryError(1400, f"Invalid property filter: {expression}")
    return Condition(_split_path(match["path"]), op, values)


def _resolve(value: Any, path: tuple[str, ...]) -> Iterator[Any]:
    """Every value at ``path``, fanning out through lists."""
    if isinstance(value, list):
        for element in value:
            yield from _resolve(element, path)
        return
    if not path:
        yield value
        return
    if isinstance(value, dict) and path[0] in value:
        yield from _resolve(value[path[0]], path[1:])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compare(found: Any, op: str, wanted: str) -> bool:
    if op in ("==", "!="):
        text = _text(found)
        equal = text == wanted or (isinstance(found, bool) and text == wanted.lower())
        return equal if op == "==" else not equal
    try:
        left, right = float(found), float(wanted)
    except (TypeError, ValueError):
        left, right = _text(found), wanted  # type: ignore[assignment]
    if op == ">":
        return left > right
    if op == "<":
        return left < right
    if op == ">=":
        return left >= right
    return left <= right


def matches(item: dict[str, Any], condition: Condition) -> bool:
    """Whether an item satisfies one condition."""
    found = list(_resolve(item, condition.path))
    if condition.op == "present":
        return bool(found)
    if condition.op == "absent":
        return not found
    if condition.op == "!=":
        return all(_compare(f, "!=", v) for f in found for v in condition.values)
    return any(_compare(f, condition.op, v) for f in found for v in condition.values)


def select(items: Iterable[dict[str, Any]], conditions: list[Condition]) -> list[dict[str, Any]]:
    """The items that satisfy every condition (repeated ``property=`` is AND)."""
    return [item for item in items if all(matches(item, c) for c in conditions)]


def order(items: list[dict[str, Any]], orderby: str | None) -> list[dict[str, Any]]:
    """Sort by ``orderby`` (``name``, ``+name``, ``-name``); creation order when None."""
    if not orderby:
        return items
    descending = orderby.startswith("-")
    field = orderby.lstrip("+-").strip()
    if field not in _SORTABLE:
        raise QueryError(1432, f"Invalid orderby field: {field}")

    def key(item: dict[str, Any]) -> tuple[bool, str]:
        """Missing values last, then by text."""
        return item.get(field) is None, _text(item.get(field))

    return sorted(items, key=key, reverse=descending)


def parse_limit(value: str | None) -> int | None:
    """The ``limit`` parameter as a positive int, or None when absent."""
    if value is None or value == "":
        return None
    try:
        limit = int(value)
    except ValueError:
        raise QueryError(1400, f"Invalid limit: {value}") from None
    if limit < 1:
        raise QueryError(1400, f"Invalid limit: {value}; it must be a positive integer")
    return limit

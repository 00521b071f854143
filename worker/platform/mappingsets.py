"""Recognising a listed mapping set as the one a request creates: pure, no I/O.

Mapping sets carry no name, so after a lost create answer the worker recognises its set by
content: the output schema it maps into and, where the schema may be shared (a supplied
``target.schema_id``), the (source, destination) pairs themselves. Listed sets come in either
field form (``source``/``destination`` or ``sourceAttribute``/``destinationXdmPath``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

Json = dict[str, Any]
Pair = tuple[str, str]


def created_ms(item: Mapping[str, Any]) -> int | None:
    """When a mapping set was created, in epoch milliseconds (number or ISO date-time); None."""
    value = item.get("createdDate")
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1000) if moment.tzinfo is not None else None


def _ref_id(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def output_schema_id(item: Mapping[str, Any]) -> str | None:
    """The ``$id`` of the schema a mapping set maps into, whichever field carries it."""
    output = item.get("outputSchema")
    found = _ref_id(output.get("schemaRef")) if isinstance(output, Mapping) else None
    found = found or _ref_id(item.get("schemaRef"))
    xdm_schema = item.get("xdmSchema")
    return found or (xdm_schema if isinstance(xdm_schema, str) else None)


def _text(mapping: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def mapping_pairs_of(item: Mapping[str, Any]) -> list[Pair] | None:
    """The (source, destination) pairs of a listed mapping set; None when any is unreadable."""
    mappings = item.get("mappings")
    if not isinstance(mappings, list):
        return None
    pairs: list[Pair] = []
    for mapping in mappings:
        if not isinstance(mapping, Mapping):
            return None
        source = _text(mapping, "source", "sourceAttribute")
        destination = _text(mapping, "destination", "destinationXdmPath")
        if source is None or destination is None:
            return None
        pairs.append((source, destination))
    return pairs


def is_requested_set(
    item: Mapping[str, Any], schema_id: str, pairs: Sequence[Pair] | None = None
) -> bool:
    """True when ``item`` maps into ``schema_id`` and, if ``pairs`` are given, exactly them."""
    if output_schema_id(item) != schema_id:
        return False
    if pairs is None:
        return True
    listed = mapping_pairs_of(item)
    return listed is not None and sorted(listed) == sorted(pairs)


def oldest_requested_set(
    items: Iterable[Mapping[str, Any]], schema_id: str, pairs: Sequence[Pair] | None = None
) -> Json | None:
    """The oldest of ``items`` with an id that is the requested set (ties: smaller id), or None."""
    found = [
        dict(item)
        for item in items
        if isinstance(item.get("id"), str) and is_requested_set(item, schema_id, pairs)
    ]
    if not found:
        return None
    return min(found, key=lambda item: (created_ms(item) or 0, str(item.get("id"))))

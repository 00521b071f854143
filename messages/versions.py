"""The `dataschema` versions of each message type, and reading older versions as the newest.

A version only adds fields. A message names its version in `dataschema`
(`urn:dataflow-worker:<type>:<version>`; absent: the newest); the fields a later version added
are refused in a message that names an older one, and older data is read as the newest version:
an optional field takes its default, a field the newest version requires takes `READ_AS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from messages.base import Rule

VERSIONS: dict[str, tuple[int, ...]] = {
    "DataflowRequested": (1, 2),
    "DataflowDeletionRequested": (1,),
    "StepCompleted": (1, 2),
    "DataflowCreated": (1,),
    "DataflowUpdated": (1,),
    "DataflowDeleted": (1,),
    "DataflowFailed": (1,),
    "DataflowRunCompleted": (1,),
}
"""The `dataschema` versions of each type that this package reads; the last one is written."""

ADDED_IN: dict[str, dict[str, int]] = {
    "DataflowRequested": {"revision": 2, "enabled": 2},
    "StepCompleted": {"revision": 2},
}
"""The `data` fields a later version added to a type, with the version that added each."""

READ_AS: dict[str, dict[str, Any]] = {"StepCompleted": {"revision": 1}}
"""What older data is read as where it lacks a field that the newest version requires."""

DATASCHEMA_PREFIX = "urn:dataflow-worker:"
_DATASCHEMA = re.compile(r"^urn:dataflow-worker:([A-Za-z]+):([0-9]{1,9})$")


def newest(event_type: str) -> int:
    """The version of a type that this package writes."""
    return VERSIONS[event_type][-1]


def dataschema_for(event_type: str, version: int | None = None) -> str:
    """The dataschema URN of a type at a version (the newest by default)."""
    return f"{DATASCHEMA_PREFIX}{event_type}:{version or newest(event_type)}"


def named_version(event_type: Any, dataschema: Any) -> int | None:
    """The known version a message of a known type names (the newest when it names none).

    None when the type is unknown or the dataschema is not a known version of that type (which
    `dataschema_rules` reports).
    """
    if not isinstance(event_type, str) or event_type not in VERSIONS:
        return None
    if dataschema is None:
        return newest(event_type)
    match = _DATASCHEMA.match(dataschema) if isinstance(dataschema, str) else None
    if match is None or match.group(1) != event_type:
        return None
    version = int(match.group(2))
    return version if version in VERSIONS[event_type] else None


def dataschema_rules(event_type: Any, dataschema: Any) -> Iterable[Rule]:
    """Whether a dataschema names the event's type at a version this package reads."""
    if dataschema is None or not isinstance(dataschema, str):
        return
    match = _DATASCHEMA.match(dataschema)
    if match is None:
        yield ("dataschema",), f"dataschema must be {DATASCHEMA_PREFIX}<type>:<version>"
    elif isinstance(event_type, str) and match.group(1) != event_type:
        yield ("dataschema",), f"dataschema names type {match.group(1)}, the event is {event_type}"
    elif isinstance(event_type, str) and event_type in VERSIONS:
        known = VERSIONS[event_type]
        if int(match.group(2)) not in known:
            listed = ", ".join(str(v) for v in known)
            yield (
                ("dataschema",),
                f"unknown dataschema version {match.group(2)} of {event_type} "
                f"(this worker reads version {listed})",
            )


def version_rules(event_type: Any, dataschema: Any, data: Any) -> Iterable[Rule]:
    """Fields of raw `data` that a version later than the one the message names added."""
    version = named_version(event_type, dataschema)
    if version is None or not isinstance(data, dict):
        return
    for name, added in ADDED_IN.get(event_type, {}).items():
        if added > version and name in data:
            yield (
                ("data", name),
                f"{name} needs dataschema version {added} ({dataschema_for(event_type, added)});"
                f" the message names version {version}",
            )


def upgraded(value: Any) -> Any:
    """Raw event input whose older `data` lacks a required field, with it filled (`READ_AS`).

    Anything else comes back as it is; the input is never changed in place.
    """
    if not isinstance(value, dict):
        return value
    event_type, data = value.get("type"), value.get("data")
    version = named_version(event_type, value.get("dataschema"))
    if event_type not in READ_AS or version is None or not isinstance(data, dict):
        return value
    fill, added = READ_AS[event_type], ADDED_IN[event_type]
    missing = {k: v for k, v in fill.items() if added[k] > version and k not in data}
    return {**value, "data": {**data, **missing}} if missing else value

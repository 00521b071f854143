"""What an update changes in a flow, and what drifted from what was applied: pure.

Flow Service stores a flow's schedule and transformations in its own typing (numbers and booleans
may come back as strings, ``mappingVersion`` as a string), so values are compared in a normal
form. An update sends ``replace`` operations for what differs, under ``If-Match``; the audit
names the same differences.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Json = dict[str, Any]


def flow_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> list[Json]:
    """JSON Patch operations that give ``current`` the schedule and transformations of
    ``desired`` (a flow body); empty when nothing differs."""
    operations: list[Json] = []
    if schedule_of(current) != schedule_of(desired):
        value = desired["scheduleParams"]
        operations.append({"op": "replace", "path": "/scheduleParams", "value": value})
    if transformations_of(current) != transformations_of(desired):
        value = desired["transformations"]
        operations.append({"op": "replace", "path": "/transformations", "value": value})
    return operations


def differences(current: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """What differs between a flow and a desired body: ``schedule``, ``delta_column``,
    ``mapping_set``, ``source_connection``, ``target_connection``."""
    found: list[str] = []
    if schedule_of(current) != schedule_of(desired):
        found.append("schedule")
    now, wanted = transformations_of(current), transformations_of(desired)
    if now.get("Copy") != wanted.get("Copy"):
        found.append("delta_column")
    if _mapping_id(now) != _mapping_id(wanted):
        found.append("mapping_set")
    for key, name in (
        ("sourceConnectionIds", "source_connection"),
        ("targetConnectionIds", "target_connection"),
    ):
        if list(current.get(key) or []) != list(desired.get(key) or []):
            found.append(name)
    return found


def schedule_of(flow: Mapping[str, Any]) -> Json:
    """A flow's schedule in a normal form: integers, booleans, a lowercase frequency."""
    params = flow.get("scheduleParams") or {}
    if not isinstance(params, Mapping):
        return {}
    normal: Json = {}
    if "startTime" in params:
        normal["startTime"] = _integer(params["startTime"])
    if "frequency" in params:
        normal["frequency"] = str(params["frequency"]).lower()
    if params.get("interval") is not None:
        normal["interval"] = _integer(params["interval"])
    if params.get("backfill") is not None:
        normal["backfill"] = _boolean(params["backfill"])
    return normal


def transformations_of(flow: Mapping[str, Any]) -> dict[str, Json]:
    """A flow's transformations by name, in a normal form (the mapping version a string)."""
    normal: dict[str, Json] = {}
    for transformation in flow.get("transformations") or []:
        if not isinstance(transformation, Mapping):
            continue
        params = dict(transformation.get("params") or {})
        if "mappingVersion" in params and params["mappingVersion"] is not None:
            params["mappingVersion"] = str(params["mappingVersion"])
        normal[str(transformation.get("name"))] = params
    return normal


def mapping_of(flow: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The mapping set a flow uses, and its version."""
    params = transformations_of(flow).get("Mapping") or {}
    version = params.get("mappingVersion")
    return _mapping_id(transformations_of(flow)), None if version is None else str(version)


def _mapping_id(transformations: Mapping[str, Json]) -> str | None:
    mapping = transformations.get("Mapping") or {}
    value = mapping.get("mappingId")
    return None if value is None else str(value)


def _integer(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _boolean(value: Any) -> Any:
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.lower(), value)
    return value

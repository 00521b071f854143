"""Flow Service's pure validation rules: schedules, transformations, request body shapes.

Each check returns a list of human-readable problems (empty: valid); the service answers the
first one with its error shape.
"""

from __future__ import annotations

from typing import Any

FREQUENCIES = ("once", "minute", "hour", "day", "week")
_TRUE = {"true": True, "false": False}


def coerce_int(value: Any) -> Any:
    """``"15"`` -> 15; anything that is not an integer in a string is returned unchanged."""
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return value


def coerce_bool(value: Any) -> Any:
    """``"true"`` -> True, ``"false"`` -> False; anything else unchanged."""
    if isinstance(value, str):
        return _TRUE.get(value.strip().lower(), value)
    return value


def coerce_schedule(params: dict[str, Any]) -> dict[str, Any]:
    """Schedule params with string numbers and booleans turned into JSON ones, as the tutorial
    sends them."""
    out = dict(params)
    for key in ("startTime", "interval"):
        if key in out:
            out[key] = coerce_int(out[key])
    if "backfill" in out:
        out["backfill"] = coerce_bool(out["backfill"])
    return out


def stored_schedule(params: dict[str, Any]) -> dict[str, Any]:
    """Valid (coerced) schedule params in the shape Flow Service returns them: the spec's
    ``ScheduleSpecDTO`` types ``startTime`` integer, ``backfill`` boolean, ``interval`` string."""
    out = dict(params)
    if "interval" in out:
        out["interval"] = str(out["interval"])
    return out


def stored_transformations(transformations: list[Any]) -> list[Any]:
    """Transformations as Flow Service returns them: ``mappingVersion`` is a string."""
    out: list[Any] = []
    for transformation in transformations:
        params = transformation.get("params") if isinstance(transformation, dict) else None
        if transformation.get("name") == "Mapping" and isinstance(params, dict):
            if params.get("mappingVersion") is not None:
                params = {**params, "mappingVersion": str(params["mappingVersion"])}
            transformation = {**transformation, "params": params}
        out.append(transformation)
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def schedule_problems(params: Any) -> list[str]:
    """What breaks the CRMToAEP ``scheduleSpec`` in (already coerced) schedule params."""
    if not isinstance(params, dict):
        return ["scheduleParams must be an object"]
    problems: list[str] = []
    if "startTime" not in params:
        problems.append("scheduleParams.startTime is required")
    elif not _is_int(params["startTime"]):
        problems.append("scheduleParams.startTime must be an integer (epoch seconds)")
    frequency = params.get("frequency")
    if frequency is None:
        problems.append("scheduleParams.frequency is required")
    elif frequency not in FREQUENCIES:
        problems.append(f"scheduleParams.frequency must be one of {', '.join(FREQUENCIES)}")
    if "backfill" in params and not isinstance(params["backfill"], bool):
        problems.append("scheduleParams.backfill must be a boolean")
    interval = params.get("interval")
    if frequency == "once":
        problems.extend(
            f"scheduleParams.{key} is not allowed when frequency is once"
            for key in ("interval", "backfill")
            if key in params
        )
    elif frequency in FREQUENCIES:
        minimum = 15 if frequency == "minute" else 1
        if interval is None:
            problems.append("scheduleParams.interval is required unless frequency is once")
        elif not _is_int(interval):
            problems.append("scheduleParams.interval must be an integer")
        elif interval < minimum:
            problems.append(
                f"scheduleParams.interval must be at least {minimum} when frequency is {frequency}"
            )
    return problems


def start_time_problem(before: Any, after: dict[str, Any], now: float) -> str | None:
    """Why a patch may not change a flow's schedule from ``before`` to ``after`` (both coerced
    or stored), or None: Adobe's update tutorial says ``startTime`` cannot be changed once the
    scheduled start (epoch seconds) has passed, whether the flow is enabled or not."""
    started = coerce_int(before.get("startTime")) if isinstance(before, dict) else None
    if not isinstance(started, int) or started > now or after.get("startTime") == started:
        return None
    return "scheduleParams.startTime cannot be changed: the flow's scheduled start has passed"


def transformation_problems(transformations: Any, spec_names: list[str]) -> list[str]:
    """What is wrong with a flow's transformations for a flow spec's ``transformationSpec``."""
    if transformations is None:
        return []
    if not isinstance(transformations, list):
        return ["transformations must be a list"]
    problems: list[str] = []
    for index, transformation in enumerate(transformations):
        where = f"transformations[{index}]"
        if not isinstance(transformation, dict) or not transformation.get("name"):
            problems.append(f"{where}.name is required")
            continue
        name = transformation["name"]
        params = transformation.get("params")
        if name not in spec_names:
            problems.append(f"{where}: transformation {name} is not in the flow spec")
        elif not isinstance(params, dict):
            problems.append(f"{where}.params is required")
        elif name == "Copy":
            problems.extend(_copy_problems(params, where))
        elif name == "Mapping" and not params.get("mappingId"):
            problems.append(f"{where}.params.mappingId is required")
    return problems


def _copy_problems(params: dict[str, Any], where: str) -> list[str]:
    delta = params.get("deltaColumn")
    if not isinstance(delta, dict):
        return [f"{where}.params.deltaColumn is required"]
    name = delta.get("name")
    if not isinstance(name, str) or not name:
        return [f"{where}.params.deltaColumn.name is required"]
    return []


def mapping_params(transformations: Any) -> dict[str, Any] | None:
    """The params of the Mapping transformation, when the flow has one."""
    if not isinstance(transformations, list):
        return None
    for transformation in transformations:
        if isinstance(transformation, dict) and transformation.get("name") == "Mapping":
            params = transformation.get("params")
            return params if isinstance(params, dict) else {}
    return None


def missing_fields(body: dict[str, Any], paths: tuple[str, ...]) -> list[str]:
    """The dotted paths absent (or empty) from a request body."""
    missing: list[str] = []
    for path in paths:
        value: Any = body
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None or value == "" or value == []:
            missing.append(path)
    return missing

"""Flow runs, pure: when a flow's schedule fires, and the run document each firing produces.

A recurring schedule fires at ``startTime + k * interval`` (k = 0, 1, ...), never before the flow
existed; ``once`` fires at ``startTime``, or when the flow is created if that time has passed.
``backfill`` (default true) decides the first run's window: all history (from epoch 0) or only
from ``startTime``. Every firing's outcome, duration and record counts are drawn from a generator
seeded with the fault seed, the flow id and the firing time, so a seed replays exactly; a share
``run_failure_rate`` of the runs fail with one of the Platform's run error codes. A run is
produced once it has completed on the emulator's clock.
"""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

#: Seconds per unit of ``scheduleParams.frequency`` (``once`` has no period).
PERIODS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}

#: The most firings produced for one flow by one clock advance (the latest ones are kept).
MAX_FIRINGS = 1000

#: Error codes of failed runs, with their messages, as Flow Service reports them.
RUN_ERRORS: tuple[tuple[str, str], ...] = (
    ("CONNECTOR-2001-500", "Something went wrong while copying data from the source."),
    ("INGEST-1212-400", "The batch failed validation: records do not match the schema."),
    ("MAPPER-3700-400", "A mapping could not be applied to the source records."),
)

_RUN_NAMESPACE = uuid.UUID("5e1f0c1a-7b0e-4c55-9a5d-6b1f0d2e3a41")


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def firings(schedule: dict[str, Any], created_s: float, until_s: float) -> list[int]:
    """The epoch seconds at which the schedule fires from ``created_s`` through ``until_s``."""
    if not schedule or "startTime" not in schedule:
        return []
    start, created = _int(schedule["startTime"], 0), math.ceil(created_s)
    frequency = schedule.get("frequency")
    if frequency == "once":
        at = max(start, created)
        return [at] if at <= until_s else []
    period = PERIODS.get(str(frequency), 0) * max(_int(schedule.get("interval"), 1), 1)
    if not period:
        return []
    first = start if start >= created else start + -(-(created - start) // period) * period
    if first > until_s:
        return []
    count = int((until_s - first) // period) + 1
    skip = max(0, count - MAX_FIRINGS)
    return [first + k * period for k in range(skip, count)]


def run_id(flow_id: str, fired_s: int) -> str:
    """The id of the run a flow's firing at ``fired_s`` produces (stable, so never duplicated)."""
    return str(uuid.uuid5(_RUN_NAMESPACE, f"{flow_id}/{fired_s}"))


def _rng(seed: int | None, flow_id: str, fired_s: int) -> random.Random:
    return random.Random(f"{seed or 0}/{flow_id}/{fired_s}")


def duration_s(seed: int | None, flow_id: str, fired_s: int) -> int:
    """How long the run fired at ``fired_s`` takes, in seconds (20 to 300)."""
    return _rng(seed, flow_id, fired_s).randint(20, 300)


def run_document(
    flow: dict[str, Any],
    fired_s: int,
    *,
    first: bool,
    seed: int | None,
    failure_rate: float,
) -> dict[str, Any]:
    """The completed run a flow's firing at ``fired_s`` produces, with its audit fields."""
    flow_id = flow["id"]
    rng = _rng(seed, flow_id, fired_s)
    duration = rng.randint(20, 300)  # the same first draw as duration_s
    failed = rng.random() < failure_rate
    records = rng.randint(1, 5000)
    started_ms = fired_s * 1000
    completed_ms = started_ms + duration * 1000
    schedule = flow.get("scheduleParams") or {}
    backfill = schedule.get("backfill", True) is not False
    window_start = (0 if backfill else _int(schedule.get("startTime"), 0)) if first else None
    if window_start is None:
        period = PERIODS.get(str(schedule.get("frequency")), 0)
        window_start = fired_s - period * max(_int(schedule.get("interval"), 1), 1)
    errors: list[dict[str, str]] = []
    if failed:
        code, message = RUN_ERRORS[rng.randrange(len(RUN_ERRORS))]
        errors.append({"code": code, "message": message})
    failed_records = records if failed else rng.randint(0, records // 100)
    size = records * rng.randint(80, 400)
    etag = f'"{uuid.UUID(int=rng.getrandbits(128))}"'
    identifier = run_id(flow_id, fired_s)
    audit = {
        key: flow.get(key)
        for key in ("createdBy", "updatedBy", "createdClient", "updatedClient")
        if flow.get(key) is not None
    }
    return {
        "id": identifier,
        "flowId": flow_id,
        "createdAt": started_ms,
        "updatedAt": completed_ms,
        **audit,
        "sandboxId": flow.get("sandboxId"),
        "sandboxName": flow.get("sandboxName"),
        "imsOrgId": flow.get("imsOrgId"),
        "etag": etag,
        "flowSpec": dict(flow.get("flowSpec") or {}),
        "providerRefId": f"M-{flow_id}-incremental-0:{identifier}",
        "params": {
            "startTime": fired_s,
            "windowStartTime": max(0, window_start),
            "windowEndTime": fired_s,
        },
        "metrics": {
            "durationSummary": {"startedAtUTC": started_ms, "completedAtUTC": completed_ms},
            "sizeSummary": {"inputBytes": size, "outputBytes": 0 if failed else size},
            "recordSummary": {
                "inputRecordCount": records,
                "outputRecordCount": records - failed_records,
                "failedRecordCount": failed_records,
            },
            "fileSummary": {"inputFileCount": 1, "outputFileCount": 0 if failed else 1},
            "statusSummary": {"status": "failed" if failed else "success", "errors": errors},
        },
        "activities": [_activity(identifier, "copyActivity", started_ms, completed_ms)],
    }


def _activity(identifier: str, name: str, started_ms: int, completed_ms: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(_RUN_NAMESPACE, f"{identifier}/{name}")),
        "name": name,
        "updatedAtUTC": completed_ms,
        "durationSummary": {"startedAtUTC": started_ms, "completedAtUTC": completed_ms},
    }


def last_run_details(run: dict[str, Any]) -> dict[str, Any]:
    """The ``lastRunDetails`` a flow shows for its latest run."""
    durations = run["metrics"]["durationSummary"]
    return {
        "id": run["id"],
        "state": run["metrics"]["statusSummary"]["status"],
        "startedAtUTC": durations["startedAtUTC"],
        "completedAtUTC": durations["completedAtUTC"],
    }


def due_firings(
    flow: dict[str, Any], now_s: float, seed: int | None, *, existing: set[str] | frozenset[str]
) -> list[int]:
    """The firings of an enabled flow that completed by ``now_s`` and have no run yet."""
    if flow.get("state", "enabled") != "enabled":
        return []
    flow_id = flow["id"]
    created_s = _int(flow.get("createdAt"), 0) / 1000
    return [
        fired
        for fired in firings(flow.get("scheduleParams") or {}, created_s, now_s)
        if run_id(flow_id, fired) not in existing
        and fired + duration_s(seed, flow_id, fired) <= now_s
    ]

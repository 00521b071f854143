"""Reading flow runs: which run is the first one, whether it finished, and its event: pure.

Run objects follow Flow Service's shape (`metrics.statusSummary`, `recordSummary`,
`durationSummary` with epoch milliseconds); status names are matched case-insensitively because
the Platform's documents spell them several ways.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from messages.events import DataflowRunCompleted, RunError, RunRecords

SUCCEEDED = frozenset({"success", "succeeded", "completed", "partial_success"})
FAILED = frozenset({"failed", "failure", "partial_failure", "cancelled"})


def _section(run: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    current: Any = run
    for key in path:
        current = current.get(key) if isinstance(current, Mapping) else None
    return current if isinstance(current, Mapping) else {}


def _millis(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def started_at(run: Mapping[str, Any]) -> datetime | None:
    """When the run started."""
    return _millis(_section(run, "metrics", "durationSummary").get("startedAtUTC"))


def run_status(run: Mapping[str, Any]) -> str | None:
    """`success` or `failed` once the run finished; None while it is still going."""
    status = str(_section(run, "metrics", "statusSummary").get("status") or "").lower()
    if status in SUCCEEDED:
        return "success"
    if status in FAILED:
        return "failed"
    return None


def first_run(runs: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The earliest run of a flow (by start time, then id), or None before any run."""
    if not runs:
        return None
    floor = datetime.min.replace(tzinfo=UTC)
    return min(runs, key=lambda run: (started_at(run) or floor, str(run.get("id"))))


def run_completed(
    request_id: str, flow_id: str, run: Mapping[str, Any]
) -> DataflowRunCompleted | None:
    """The DataflowRunCompleted of a finished run; None while the run is still going."""
    status = run_status(run)
    if status is None:
        return None
    records = _section(run, "metrics", "recordSummary")
    errors = _section(run, "metrics", "statusSummary").get("errors") or []
    durations = _section(run, "metrics", "durationSummary")
    started = started_at(run) or datetime.now(UTC)
    completed = _millis(durations.get("completedAtUTC")) or started
    return DataflowRunCompleted(
        request_id=request_id,
        flow_id=flow_id,
        run_id=str(run.get("id")),
        status=status,
        records=RunRecords(
            input=int(records.get("inputRecordCount") or 0),
            output=int(records.get("outputRecordCount") or 0),
            failed=int(records.get("failedRecordCount") or 0),
        ),
        errors=[
            RunError(code=str(e.get("code") or ""), message=str(e.get("message") or ""))
            for e in errors
            if isinstance(e, Mapping)
        ],
        started_at=started,
        completed_at=completed,
    )

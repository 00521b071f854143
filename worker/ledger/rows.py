"""Records to table rows and back: one row per request, the steps and errors as compact JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from worker.ledger.base import RequestRecord, StepRecord

COLUMNS: tuple[str, ...] = (
    "request_id",
    "content_hash",
    "request_json",
    "first_event_id",
    "status",
    "steps",
    "deliveries",
    "unsettled_deliveries",
    "last_error",
    "next_retry_at",
    "terminal_event",
    "created_at",
    "updated_at",
    "finished_at",
    "lease_owner",
    "lease_expires_at",
    "fence",
    "runs",
)
"""Every column, in the order of :func:`to_row`."""

MUTABLE_COLUMNS: tuple[str, ...] = tuple(
    name
    for name in COLUMNS
    if name not in {"request_id", "content_hash", "request_json", "first_event_id", "created_at"}
)
"""The columns an operation after the claim may change, in the order of :func:`mutable_values`."""

STATE_COLUMNS: tuple[str, ...] = tuple(name for name in COLUMNS if name != "request_json")
"""Every column but the request content, which fenced writes never need to read."""

_STEP_FIELDS = ("state", "resource_id", "name", "attempts", "outcome", "duration_seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _encode_steps(steps: Mapping[str, StepRecord]) -> str:
    return _dumps(
        {
            name: {
                key: getattr(step, key) for key in _STEP_FIELDS if getattr(step, key) is not None
            }
            for name, step in steps.items()
        }
    )


def _decode_steps(text: str) -> dict[str, StepRecord]:
    return {name: StepRecord(**fields) for name, fields in json.loads(text).items()}


def _value(record: RequestRecord, column: str) -> Any:
    if column == "steps":
        return _encode_steps(record.steps)
    if column == "last_error":
        return None if record.last_error is None else _dumps(dict(record.last_error))
    if column == "runs":
        return _dumps([dict(run) for run in record.runs])
    return getattr(record, column)


def to_row(record: RequestRecord) -> tuple[Any, ...]:
    """The values of every column, in :data:`COLUMNS` order."""
    return tuple(_value(record, column) for column in COLUMNS)


def mutable_values(record: RequestRecord) -> tuple[Any, ...]:
    """The values of :data:`MUTABLE_COLUMNS`, in that order."""
    return tuple(_value(record, column) for column in MUTABLE_COLUMNS)


def from_row(row: Sequence[Any], columns: Sequence[str] = COLUMNS) -> RequestRecord:
    """The record a row holds; ``request_json`` is empty when the row left it out."""
    values = dict(zip(columns, row, strict=True))
    last_error = values["last_error"]
    terminal_event = values["terminal_event"]
    return RequestRecord(
        request_id=values["request_id"],
        content_hash=values["content_hash"],
        request_json=values.get("request_json", ""),
        first_event_id=values["first_event_id"],
        status=values["status"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        steps=_decode_steps(values["steps"]),
        deliveries=values["deliveries"],
        unsettled_deliveries=values["unsettled_deliveries"],
        last_error=None if last_error is None else json.loads(last_error),
        next_retry_at=values["next_retry_at"],
        terminal_event=None if terminal_event is None else bytes(terminal_event),
        finished_at=values["finished_at"],
        lease_owner=values["lease_owner"],
        lease_expires_at=values["lease_expires_at"],
        fence=values["fence"],
        runs=tuple(json.loads(values["runs"])),
    )

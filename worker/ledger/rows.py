"""Records to table rows and back: one row per request, the steps and errors as compact JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from worker.core.record import RequestRecord, StepRecord

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
    "operation",
    "applied_revision",
    "revision",
    "started_at",
    "deletion_reason",
    "applied_json",
)
"""Every column, in the order of :func:`to_row`."""

COMMAND_COLUMNS: tuple[str, ...] = (
    "content_hash",
    "request_json",
    "first_event_id",
    "revision",
    "started_at",
    "deletion_reason",
    "applied_json",
)
"""What a command (a request, a revision, a deletion) sets when a claim accepts it, in the order
of :func:`command_values`; fenced writes never change them (``applied_json`` is copied from
``request_json`` by the ledger itself when a revision is applied)."""

MUTABLE_COLUMNS: tuple[str, ...] = tuple(
    name for name in COLUMNS if name not in {"request_id", "created_at", "runs", *COMMAND_COLUMNS}
)
"""The columns the claim and the fenced writes change, in the order of :func:`mutable_values`.

``runs`` is left out: only ``record_run`` writes it, so a lease holder writing from its held copy
of the record can never overwrite a run recorded meanwhile.
"""

STATE_COLUMNS: tuple[str, ...] = tuple(
    name for name in COLUMNS if name not in ("request_json", "applied_json")
)
"""Every column but the contents, which fenced writes never need to read."""

_STEP_FIELDS = ("state", "resource_id", "name", "attempts", "outcome", "duration_seconds")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_dumps = _ENCODER.encode


def _encode_steps(steps: Mapping[str, StepRecord]) -> str:
    return _dumps(
        {
            name: {key: value for key in _STEP_FIELDS if (value := getattr(step, key)) is not None}
            for name, step in steps.items()
        }
    )


def _decode_steps(text: str) -> dict[str, StepRecord]:
    return {name: StepRecord(**fields) for name, fields in json.loads(text).items()}


def _encode_error(error: Mapping[str, Any] | None) -> str | None:
    return None if error is None else _dumps(dict(error))


def encode_runs(runs: tuple[Mapping[str, Any], ...]) -> str:
    """The ``runs`` column of a record."""
    return _dumps([dict(run) for run in runs]) if runs else "[]"


def to_row(record: RequestRecord) -> tuple[Any, ...]:
    """The values of every column, in :data:`COLUMNS` order."""
    values = dict(zip(MUTABLE_COLUMNS, mutable_values(record), strict=True))
    values.update(zip(COMMAND_COLUMNS, command_values(record), strict=True))
    values.update(
        request_id=record.request_id, created_at=record.created_at, runs=encode_runs(record.runs)
    )
    return tuple(values[name] for name in COLUMNS)


def command_values(record: RequestRecord) -> tuple[Any, ...]:
    """The values of :data:`COMMAND_COLUMNS`, in that order."""
    return (
        record.content_hash,
        record.request_json,
        record.first_event_id,
        record.revision,
        record.started_at,
        record.deletion_reason,
        record.applied_json or None,
    )


def mutable_values(record: RequestRecord) -> tuple[Any, ...]:
    """The values of :data:`MUTABLE_COLUMNS`, in that order (written on every change)."""
    return (
        record.status,
        _encode_steps(record.steps),
        record.deliveries,
        record.unsettled_deliveries,
        _encode_error(record.last_error),
        record.next_retry_at,
        record.terminal_event,
        record.updated_at,
        record.finished_at,
        record.lease_owner,
        record.lease_expires_at,
        record.fence,
        record.operation,
        record.applied_revision,
    )


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
        operation=values["operation"],
        revision=values["revision"],
        started_at=values["started_at"],
        applied_revision=values["applied_revision"],
        applied_json=values.get("applied_json") or "",
        deletion_reason=values["deletion_reason"],
    )

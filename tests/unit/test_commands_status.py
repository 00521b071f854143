"""The views of ``dataflow-worker status``: one request's ledger, and the summary of all."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rich.console import Console

from worker.commands.status import (
    failed_step,
    iso,
    ordered_steps,
    render_request,
    render_summary,
    request_view,
    summary_view,
)
from worker.ledger import RequestRecord, StepRecord

T0 = 1_795_000_000.0


def record(**changes: Any) -> RequestRecord:
    """A ledger record of a request half way through, with the given fields changed."""
    fields: dict[str, Any] = {
        "request_id": "crm-42",
        "content_hash": "ab" * 32,
        "request_json": "{}",
        "first_event_id": "e-1",
        "status": "waiting_retry",
        "created_at": T0,
        "updated_at": T0 + 5,
        "steps": {
            "target_schema": StepRecord("done", "schema-1", None, 1, "created", 0.25),
            "flow_spec": StepRecord("done", "spec-1", None, 1, "found", 0.1),
            "source_connection": StepRecord("done", "src-1", "crm (source) [crm-42]", 3, "created"),
            "target_dataset": StepRecord("started", None, "crm (dataset) [crm-42]", 2),
        },
        "deliveries": 2,
        "last_error": {"kind": "retryable", "message": "service unavailable", "status": 503},
        "next_retry_at": T0 + 65,
    }
    fields.update(changes)
    return RequestRecord(**fields)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(None, None), (0.0, "1970-01-01T00:00:00Z"), (T0 + 0.7, "2026-11-18T11:06:40Z")],
)
def test_times_are_shown_as_rfc3339_utc(seconds: float | None, expected: str | None) -> None:
    assert iso(seconds) == expected


def test_steps_are_listed_in_execution_order_with_unknown_ones_last() -> None:
    steps = {**record().steps, "zz_future_step": StepRecord()}
    assert ordered_steps(record(steps=steps)) == [
        "flow_spec",
        "source_connection",
        "target_schema",
        "target_dataset",
        "zz_future_step",
    ]


@pytest.mark.parametrize(
    ("error", "steps", "expected"),
    [
        ({"kind": "rejected", "step": "mapping_set"}, {}, "mapping_set"),
        ({"kind": "rejected"}, {"target_connection": StepRecord("failed")}, "target_connection"),
        (None, {"dataflow": StepRecord("done")}, None),
    ],
)
def test_the_failed_step_comes_from_the_error_or_the_steps(
    error: dict[str, Any] | None, steps: dict[str, StepRecord], expected: str | None
) -> None:
    assert failed_step(record(last_error=error, steps=steps)) == expected


def test_a_request_view_holds_steps_attempts_deliveries_error_and_next_retry() -> None:
    view = request_view(record())
    assert view["status"] == "waiting_retry"
    assert view["attempts"] == 7
    assert view["deliveries"] == 2
    assert view["next_retry_at"] == iso(T0 + 65)
    assert view["failed_step"] is None
    assert view["last_error"]["status"] == 503
    assert view["steps"][1] == {
        "step": "source_connection",
        "state": "done",
        "resource_id": "src-1",
        "outcome": "created",
        "attempts": 3,
        "duration_seconds": None,
    }
    json.dumps(view)  # --json prints exactly this


def test_a_failed_request_names_its_failed_step() -> None:
    failed = record(
        status="failed",
        last_error={"kind": "rejected", "message": "no such dataset", "status": 400},
        steps={**record().steps, "target_dataset": StepRecord("failed", attempts=1)},
    )
    assert request_view(failed)["failed_step"] == "target_dataset"


def test_the_summary_counts_every_status_and_lists_recent_failures() -> None:
    failure = record(
        request_id="crm-7",
        status="failed",
        last_error={"kind": "retries_exhausted", "message": "gave up", "step": "dataflow"},
    )
    view = summary_view({"failed": 1, "created": 40, "running": 2}, [failure])
    assert view["total"] == 43
    assert list(view["counts"]) == ["created", "failed", "running"]
    assert view["recent_failures"] == [
        {
            "request_id": "crm-7",
            "step": "dataflow",
            "kind": "retries_exhausted",
            "message": "gave up",
            "updated_at": iso(T0 + 5),
        }
    ]


def rendered(renderable: Any) -> str:
    """What a person sees on a wide terminal."""
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_request_table_shows_each_step_and_the_last_error() -> None:
    text = rendered(render_request(request_view(record())))
    assert "crm (source)" not in text  # names are the ledger's business, ids are shown
    assert "src-1" in text
    assert "target_dataset" in text
    assert "next retry at 2026-11-18T11:07:45Z" in text
    assert "last error: retryable HTTP 503: service unavailable" in text


def test_the_summary_table_shows_counts_and_failures() -> None:
    failure = record(status="failed", last_error={"kind": "rejected", "message": "bad"})
    text = rendered(render_summary(summary_view({"created": 3, "failed": 1}, [failure])))
    assert "4 requests" in text
    assert "most recent failures" in text
    assert "crm-42" in text
    assert "rejected" in text

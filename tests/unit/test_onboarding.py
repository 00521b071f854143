"""Onboarding's pure parts: each table's status from the events, and the report."""

from __future__ import annotations

import csv
import io
import json

from worker.onboarding.tracking import TableRow, Tracker, render_report

ROWS = [TableRow("public.a", "tbl-a", "published"), TableRow("public.b", "tbl-b", "published")]


def test_the_tracker_follows_each_request_to_its_terminal_event_and_ignores_others() -> None:
    tracker = Tracker(ROWS)
    assert tracker.observe("StepCompleted", {"request_id": "other", "step": "flow_spec"}) is None
    running = tracker.observe("StepCompleted", {"request_id": "tbl-a", "step": "flow_spec"})
    assert running is not None
    assert running.status == "running (flow_spec done)"
    created = tracker.observe("DataflowCreated", {"request_id": "tbl-a", "flow_id": "f-1"})
    assert created == TableRow("public.a", "tbl-a", "created", flow_id="f-1")
    assert not tracker.done
    failure = {"kind": "rejected", "message": "no such base connection"}
    failed = tracker.observe(
        "DataflowFailed", {"request_id": "tbl-b", "step": "source_connection", "error": failure}
    )
    assert failed is not None
    assert failed.status == "failed"
    assert failed.error == "rejected at source_connection: no such base connection"
    assert tracker.done
    assert tracker.observe("DataflowCreated", {"request_id": "tbl-b", "flow_id": "late"}) is None


def test_requests_without_a_terminal_event_are_timed_out_when_the_wait_ends() -> None:
    tracker = Tracker(ROWS)
    tracker.observe("DataflowCreated", {"request_id": "tbl-a", "flow_id": "f-1"})
    rows = tracker.rows(timed_out=True)
    assert [row.status for row in rows] == ["created", "timed out"]
    assert rows[1].error == "no terminal event (published)"


def test_the_report_is_a_csv_row_or_a_json_object_per_table() -> None:
    rows = [TableRow("public.a", "tbl-a", "created", flow_id="f-1"), ROWS[1]]
    records = list(csv.DictReader(io.StringIO(render_report(rows, "csv"))))
    assert records == [
        {
            "table": "public.a",
            "request_id": "tbl-a",
            "status": "created",
            "flow_id": "f-1",
            "error": "",
        },
        {
            "table": "public.b",
            "request_id": "tbl-b",
            "status": "published",
            "flow_id": "",
            "error": "",
        },
    ]
    assert json.loads(render_report(rows, "json"))[1] == {
        "table": "public.b",
        "request_id": "tbl-b",
        "status": "published",
        "flow_id": None,
        "error": None,
    }

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


def test_revisions_and_deletions_end_in_their_own_events() -> None:
    tracker = Tracker(ROWS, revisions={"tbl-a": 3})
    assert tracker.observe("DataflowUpdated", {"request_id": "tbl-a", "revision": 2}) is None
    step = {"request_id": "tbl-a", "step": "dataflow", "outcome": "updated", "revision": 3}
    assert tracker.observe("StepCompleted", step) == TableRow(
        "public.a", "tbl-a", "running (dataflow done)"
    )
    updated = {"request_id": "tbl-a", "revision": 3, "flow_id": "f-1"}
    assert tracker.observe("DataflowUpdated", updated) == TableRow(
        "public.a", "tbl-a", "updated", flow_id="f-1"
    )
    kept = {"request_id": "tbl-b", "step": "mapping_set", "outcome": "kept"}
    assert tracker.observe("StepCompleted", kept) == TableRow(
        "public.b", "tbl-b", "running (mapping_set kept)"
    )
    deleted = {"request_id": "tbl-b", "deleted": {"dataflow": "f-2"}, "kept": {}}
    assert tracker.observe("DataflowDeleted", deleted) == TableRow(
        "public.b", "tbl-b", "deleted", flow_id="f-2"
    )
    assert tracker.done
    assert tracker.endings == {"tbl-a": updated, "tbl-b": deleted}


def test_settled_rows_need_no_event() -> None:
    tracker = Tracker(ROWS, settled=["tbl-a", "unknown"])
    assert (tracker.waiting, tracker.done) == (1, False)
    assert tracker.observe("DataflowCreated", {"request_id": "tbl-a", "flow_id": "x"}) is None
    assert [row.status for row in tracker.rows(timed_out=True)] == ["published", "timed out"]


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

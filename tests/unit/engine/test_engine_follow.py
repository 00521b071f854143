"""Following the first run of a created dataflow, and reading run objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.engine.fakes import delivery, request, rig
from worker.core.delivery import FOLLOW_HEADER, ROUND_HEADER
from worker.core.follow import wait_seconds
from worker.core.runs import first_run, run_completed, run_status


def _run(run_id: str, status: str, started: int = 1_800_000_000_000) -> dict[str, Any]:
    return {
        "id": run_id,
        "metrics": {
            "durationSummary": {"startedAtUTC": started, "completedAtUTC": started + 60_000},
            "recordSummary": {
                "inputRecordCount": 10,
                "outputRecordCount": 9,
                "failedRecordCount": 1,
            },
            "statusSummary": {
                "status": status,
                "errors": [{"code": "CONNECTOR-2001-500", "message": "row rejected"}],
            },
        },
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("success", "success"),
        ("SUCCESS", "success"),
        ("partial_success", "success"),
        ("failed", "failed"),
        ("Failed", "failed"),
        ("inProgress", None),
        ("queued", None),
        ("", None),
    ],
)
def test_a_run_status_is_read_case_insensitively_and_unfinished_runs_have_none(
    status: str, expected: str | None
) -> None:
    assert run_status(_run("r", status)) == expected


def test_the_first_run_is_the_one_that_started_earliest() -> None:
    runs = [_run("late", "success", 2_000), _run("early", "inProgress", 1_000)]
    assert first_run(runs) == runs[1]
    assert first_run([]) is None


def test_a_finished_run_becomes_a_run_completed_event_with_records_and_errors() -> None:
    payload = run_completed("crm-1", "flow-1", _run("run-1", "failed"))
    assert payload is not None
    assert payload.model_dump(mode="json") == {
        "request_id": "crm-1",
        "flow_id": "flow-1",
        "run_id": "run-1",
        "status": "failed",
        "records": {"input": 10, "output": 9, "failed": 1},
        "errors": [{"code": "CONNECTOR-2001-500", "message": "row rejected"}],
        "started_at": "2027-01-15T08:00:00Z",
        "completed_at": "2027-01-15T08:01:00Z",
    }


@pytest.mark.parametrize(("round_", "seconds"), [(1, 16), (2, 32), (4, 128), (7, 1024), (50, 1024)])
def test_follow_rounds_wait_longer_each_time_up_to_a_cap(round_: int, seconds: float) -> None:
    assert wait_seconds(round_) == seconds


def test_a_followed_request_reports_its_first_run_once_it_finished(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        settle = r.handle(delivery(request(follow_runs=True)))
        created = r.events()[-1]
        [first_copy] = r.delayed()
        r.handle(first_copy)  # no run yet: wait another round
        [second_copy] = r.delayed()
        r.actions.flow_runs = [_run("run-1", "success")]
        last = r.handle(second_copy)
        [completed] = r.events()
        record = r.ledger.get("crm-1")
    assert (settle, last) == ("ack", "ack")
    assert first_copy.headers[FOLLOW_HEADER] == created["data"]["flow_id"]
    assert second_copy.headers[ROUND_HEADER] == 2
    assert completed["type"] == "DataflowRunCompleted"
    assert completed["data"]["run_id"] == "run-1"
    assert record is not None
    assert [run["run_id"] for run in record.runs] == ["run-1"]
    assert r.delayed() == []


def test_a_request_that_does_not_follow_runs_leaves_no_copy_behind(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.handle(delivery(request()))
        assert r.delayed() == []

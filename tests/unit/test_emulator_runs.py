"""The emulator's pure run rules: when schedules fire and what the runs they produce look like."""

from __future__ import annotations

from typing import Any

import pytest

from emulator import runs

T0 = 1_764_400_000  # a schedule's startTime (epoch seconds)


@pytest.mark.parametrize(
    ("schedule", "created", "until", "expected"),
    [
        # once: at startTime, or at creation when that has passed
        ({"startTime": T0, "frequency": "once"}, T0 - 10, T0 + 5, [T0]),
        ({"startTime": T0, "frequency": "once"}, T0 - 10, T0 - 1, []),
        ({"startTime": T0, "frequency": "once"}, T0 + 100, T0 + 200, [T0 + 100]),
        # recurring: startTime + k * interval, from startTime on
        (
            {"startTime": T0, "frequency": "minute", "interval": "15"},
            T0 - 60,
            T0 + 3600,
            [T0, T0 + 900, T0 + 1800, T0 + 2700, T0 + 3600],
        ),
        # a start in the past: the next firing after the flow was created, no catching up
        (
            {"startTime": T0, "frequency": "minute", "interval": 15},
            T0 + 1000,
            T0 + 2700,
            [T0 + 1800, T0 + 2700],
        ),
        # a fractional creation time never yields a firing before it
        ({"startTime": T0, "frequency": "hour", "interval": 1}, T0 + 0.5, T0 + 3600, [T0 + 3600]),
        ({"startTime": T0, "frequency": "hour", "interval": 2}, T0, T0 + 7199, [T0]),
        (
            {"startTime": T0, "frequency": "day", "interval": 1},
            T0,
            T0 + 2 * 86400,
            [T0, T0 + 86400, T0 + 2 * 86400],
        ),
        ({"startTime": T0, "frequency": "week", "interval": 1}, T0 + 1, T0 + 604800, [T0 + 604800]),
        # backfill does not change when a schedule fires
        (
            {"startTime": T0, "frequency": "day", "interval": 1, "backfill": False},
            T0,
            T0 + 86400,
            [T0, T0 + 86400],
        ),
        # no schedule, or an unknown frequency: never
        ({}, T0, T0 + 86400, []),
        ({"startTime": T0, "frequency": "fortnight", "interval": 1}, T0, T0 + 86400, []),
    ],
)
def test_a_schedule_fires_at_its_start_plus_whole_intervals(
    schedule: dict[str, Any], created: float, until: float, expected: list[int]
) -> None:
    assert runs.firings(schedule, created, until) == expected


def test_a_long_window_keeps_only_the_latest_firings() -> None:
    schedule = {"startTime": T0, "frequency": "minute", "interval": 15}
    fired = runs.firings(schedule, T0, T0 + 900 * (runs.MAX_FIRINGS + 10))
    assert len(fired) == runs.MAX_FIRINGS
    assert fired[-1] == T0 + 900 * (runs.MAX_FIRINGS + 10)


def flow(**changes: Any) -> dict[str, Any]:
    """A stored flow as the emulator keeps it."""
    item: dict[str, Any] = {
        "id": "3d17a4ff-9e0a-4f7c-94bb-bc0b61a3a76d",
        "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
        "state": "enabled",
        "scheduleParams": {"startTime": T0, "frequency": "minute", "interval": "15"},
        "createdAt": (T0 - 60) * 1000,
        "createdBy": "client@AdobeID",
        "sandboxName": "prod",
        "imsOrgId": "ORG@AdobeOrg",
    }
    item.update(changes)
    return item


@pytest.mark.parametrize(("rate", "status"), [(0.0, "success"), (1.0, "failed")])
def test_the_failure_rate_decides_every_runs_outcome(rate: float, status: str) -> None:
    documents = [
        runs.run_document(flow(), T0 + 900 * k, first=k == 0, seed=7, failure_rate=rate)
        for k in range(20)
    ]
    assert {d["metrics"]["statusSummary"]["status"] for d in documents} == {status}


def test_a_failed_run_carries_a_platform_error_code_and_no_output() -> None:
    document = runs.run_document(flow(), T0, first=True, seed=1, failure_rate=1.0)
    summary = document["metrics"]["statusSummary"]
    codes = {code for code, _ in runs.RUN_ERRORS}
    assert len(summary["errors"]) == 1
    assert summary["errors"][0]["code"] in codes
    records = document["metrics"]["recordSummary"]
    assert records["outputRecordCount"] == 0
    assert records["failedRecordCount"] == records["inputRecordCount"]


def test_a_successful_run_has_the_flows_ids_times_and_counts() -> None:
    document = runs.run_document(flow(), T0 + 900, first=False, seed=3, failure_rate=0.0)
    durations = document["metrics"]["durationSummary"]
    records = document["metrics"]["recordSummary"]
    assert document["id"] == runs.run_id(flow()["id"], T0 + 900)
    assert document["flowId"] == flow()["id"]
    assert document["flowSpec"] == flow()["flowSpec"]
    assert durations["startedAtUTC"] == (T0 + 900) * 1000
    assert durations["completedAtUTC"] - durations["startedAtUTC"] == (
        runs.duration_s(3, flow()["id"], T0 + 900) * 1000
    )
    assert (
        records["outputRecordCount"] + records["failedRecordCount"] == (records["inputRecordCount"])
    )
    assert document["metrics"]["statusSummary"]["errors"] == []
    assert document["etag"].startswith('"')


def test_the_same_seed_replays_the_same_runs_and_another_seed_differs() -> None:
    def drawn(seed: int) -> list[dict[str, Any]]:
        """Twenty runs with half failing."""
        return [
            runs.run_document(flow(), T0 + 900 * k, first=False, seed=seed, failure_rate=0.5)
            for k in range(20)
        ]

    assert drawn(42) == drawn(42)
    assert drawn(42) != drawn(43)


@pytest.mark.parametrize(("backfill", "window_start"), [(True, 0), (False, T0), (None, 0)], ids=str)
def test_the_first_runs_window_starts_at_epoch_zero_only_when_backfilling(
    backfill: bool | None, window_start: int
) -> None:
    schedule: dict[str, Any] = {"startTime": T0, "frequency": "minute", "interval": "15"}
    if backfill is not None:
        schedule["backfill"] = backfill
    first = runs.run_document(flow(scheduleParams=schedule), T0, first=True, seed=0, failure_rate=0)
    later = runs.run_document(
        flow(scheduleParams=schedule), T0 + 900, first=False, seed=0, failure_rate=0
    )
    assert first["params"]["windowStartTime"] == window_start
    assert later["params"]["windowStartTime"] == T0


def test_only_completed_firings_without_a_run_are_due() -> None:
    item = flow()
    done = runs.run_id(item["id"], T0)
    now = T0 + 1800 + runs.duration_s(None, item["id"], T0 + 1800) - 1
    assert runs.due_firings(item, now, None, existing={done}) == [T0 + 900]


def test_a_disabled_flow_has_no_due_firings() -> None:
    assert runs.due_firings(flow(state="disabled"), T0 + 86400, None, existing=set()) == []


def test_last_run_details_summarise_the_run() -> None:
    document = runs.run_document(flow(), T0, first=True, seed=5, failure_rate=1.0)
    assert runs.last_run_details(document) == {
        "id": document["id"],
        "state": "failed",
        "startedAtUTC": T0 * 1000,
        "completedAtUTC": document["metrics"]["durationSummary"]["completedAtUTC"],
    }

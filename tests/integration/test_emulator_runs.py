"""Flow runs over real HTTP: the clock produces them, Flow Service lists them, faults fail them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.runs import RUN_ERRORS
from emulator.testing import FLOWSERVICE, Emulator, running_emulator
from tests.integration.platform_support import created_dataflow, dataflow_request

pytestmark = pytest.mark.integration

START = 1_764_400_000  # the schedule start of `dataflow_request`: in the emulator's past
RUNS = f"{FLOWSERVICE}/runs"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A fresh emulator per test: the clock and faults are emulator-wide."""
    with running_emulator() as running:
        yield running


def new_flow(emu: Emulator) -> str:
    """A whole dataflow created through the worker's client; returns the flow id."""
    request = dataflow_request(f"runs {uuid.uuid4().hex[:8]}", emu.create_base_connection())
    return created_dataflow(emu, request).flow


def runs_of(http: httpx.Client, flow_id: str, **params: Any) -> httpx.Response:
    """``GET /runs?property=flowId==<id>`` with more query parameters."""
    response = http.get(RUNS, params={"property": f"flowId=={flow_id}", **params})
    assert response.status_code == 200, response.text
    return response


def test_no_runs_exist_until_the_clock_is_advanced_past_a_firing(emu: Emulator) -> None:
    flow = new_flow(emu)
    with emu.client() as http:
        assert runs_of(http, flow).json()["items"] == []
        answer = emu.advance_clock(3600)
        items = runs_of(http, flow).json()["items"]
    assert answer["runsProduced"] == len(items)
    assert 3 <= len(items) <= 4  # every 15 minutes, once each run has completed
    assert {run["flowId"] for run in items} == {flow}
    starts = [run["metrics"]["durationSummary"]["startedAtUTC"] for run in items]
    assert all((start // 1000 - START) % 900 == 0 for start in starts)
    assert len(set(starts)) == len(starts)


def test_a_run_is_read_by_id_in_the_items_wrapper_and_the_flow_shows_the_latest(
    emu: Emulator,
) -> None:
    flow = new_flow(emu)
    emu.advance_clock(7200)
    with emu.client() as http:
        items = runs_of(http, flow).json()["items"]
        latest = max(items, key=lambda run: run["metrics"]["durationSummary"]["startedAtUTC"])
        by_id = http.get(f"{RUNS}/{latest['id']}")
        flow_item = http.get(f"{FLOWSERVICE}/flows/{flow}").json()["items"][0]
        missing = http.get(f"{RUNS}/{uuid.uuid4()}")
    assert by_id.status_code == 200
    assert by_id.json() == {"items": [latest]}
    durations = latest["metrics"]["durationSummary"]
    assert flow_item["lastRunDetails"] == {
        "id": latest["id"],
        "state": latest["metrics"]["statusSummary"]["status"],
        "startedAtUTC": durations["startedAtUTC"],
        "completedAtUTC": durations["completedAtUTC"],
    }
    assert missing.status_code == 404


def test_advancing_again_adds_only_the_new_runs(emu: Emulator) -> None:
    flow = new_flow(emu)
    first = emu.advance_clock(3600)["runsProduced"]
    again = emu.advance_clock(0)["runsProduced"]
    later = emu.advance_clock(3600)["runsProduced"]
    with emu.client() as http:
        count = runs_of(http, flow, count="true").json()["count"]
    assert again == 0
    assert count == first + later
    assert later >= 3


def test_runs_are_paged_and_counted_like_other_lists(emu: Emulator) -> None:
    flow = new_flow(emu)
    emu.advance_clock(4 * 3600)
    with emu.client() as http:
        everything = runs_of(http, flow).json()["items"]
        page = runs_of(http, flow, limit=5).json()
        paged = page["items"]
        while page["_links"]:
            page = http.get(f"{FLOWSERVICE}{page['_links']['next']['href']}").json()
            assert len(page["items"]) <= 5
            paged += page["items"]
        counted = runs_of(http, flow, count="true").json()
    assert len(everything) > 5
    assert [run["id"] for run in paged] == [r["id"] for r in everything]
    assert counted == {"count": len(everything)}


@pytest.mark.parametrize(("rate", "status"), [(0, "success"), (1, "failed")])
def test_the_run_failure_rate_fails_that_share_of_runs_with_platform_codes(
    emu: Emulator, rate: float, status: str
) -> None:
    emu.set_faults({"seed": 7, "run_failure_rate": rate})
    flow = new_flow(emu)
    emu.advance_clock(3 * 3600)
    with emu.client() as http:
        items = runs_of(http, flow).json()["items"]
    assert items
    assert {run["metrics"]["statusSummary"]["status"] for run in items} == {status}
    errors = [error for run in items for error in run["metrics"]["statusSummary"]["errors"]]
    known = {code for code, _ in RUN_ERRORS}
    if status == "failed":
        assert len(errors) == len(items)
        assert {error["code"] for error in errors} <= known
    else:
        assert errors == []


def test_runs_are_listed_among_the_resources_and_forgotten_on_reset(emu: Emulator) -> None:
    flow = new_flow(emu)
    produced = emu.advance_clock(3600)["runsProduced"]
    listed = emu.resources()["runs"]
    emu.reset()
    assert len(listed) == produced
    assert all(set(item) >= {"id", "name"} and item["name"] is None for item in listed)
    assert emu.resources()["runs"] == []
    with emu.client() as http:
        assert runs_of(http, flow).json()["items"] == []


def test_a_disabled_flow_produces_no_runs(emu: Emulator) -> None:
    flow = new_flow(emu)
    with emu.client() as http:
        disabled = http.post(f"{FLOWSERVICE}/flows/{flow}/action", params={"op": "DISABLE"})
        assert disabled.status_code == 200
        emu.advance_clock(3600)
        assert runs_of(http, flow).json()["items"] == []


@pytest.mark.parametrize(
    "body", [{}, {"advance_seconds": -1}, {"advance_seconds": "60"}, {"advance_seconds": True}]
)
def test_the_clock_refuses_anything_but_a_non_negative_number(
    emu: Emulator, body: dict[str, Any]
) -> None:
    answer = httpx.post(f"{emu.url}/__emulator/clock", json=body)
    assert answer.status_code == 400
    assert "advance_seconds" in answer.json()["error"]


def test_the_clock_moves_the_emulators_time_forward(emu: Emulator) -> None:
    before = emu.advance_clock(0)["nowMs"]
    after = emu.advance_clock(86400)["nowMs"]
    assert after - before >= 86_400_000

"""Acceptance 3: duplicates raced by two worker processes on PostgreSQL, and conflicting content."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.integration.harness import wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import Scenario
from worker.cli import cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REQUESTS = 5


@pytest.fixture
def scenario(postgres_scenario: Scenario) -> Scenario:
    """These scenarios run on a PostgreSQL ledger, as several workers on several hosts would."""
    return postgres_scenario


def test_the_same_request_raced_by_two_workers_makes_one_dataflow_and_other_content_conflicts(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    emulator.set_faults({"latency_ms": [20, 120], "paths": "^/data/foundation/"})
    scenario.worker(emulator, concurrency=4)
    scenario.worker(emulator, concurrency=4)
    requests = [sample_request(f"acc3-{n}", base) for n in range(REQUESTS)]
    twice = [request for request in requests for _ in range(2)]  # each published twice at once
    ids = sorted(set(scenario.publish(twice)))

    terminal = scenario.events.wait_for_terminal(ids, timeout=90)
    for request_id in ids:
        assert {event["type"] for event in terminal[request_id]} == {"DataflowCreated"}
        assert len({event["id"] for event in terminal[request_id]}) == 1, "republished, same id"
    assert set(emulator.counts().values()) == {REQUESTS}
    first = terminal["acc3-0"][0]["data"]
    flows_before = emulator.resources()["flows"]

    scenario.publish([sample_request("acc3-0", base, name="other content")])

    def conflict_reported() -> bool:
        scenario.events.drain(0)
        return any(
            event["data"]["request_id"] == "acc3-0"
            for event in scenario.events.of_type("DataflowFailed")
        )

    wait_until(conflict_reported, timeout=60, what="the conflict's DataflowFailed")
    [failed] = scenario.events.of_type("DataflowFailed")
    assert failed["data"]["error"]["kind"] == "conflict"
    assert failed["id"] != terminal["acc3-0"][0]["id"]
    assert emulator.resources()["flows"] == flows_before
    status = CliRunner().invoke(
        cli, ["status", "--json", "acc3-0"], env={"DATAFLOW_STATE_URL": scenario.state_url}
    )
    assert status.exit_code == 0, status.output
    view = json.loads(status.output)
    assert view["status"] == "created"
    steps = {step["step"]: step["resource_id"] for step in view["steps"]}
    assert steps["dataflow"] == first["flow_id"]

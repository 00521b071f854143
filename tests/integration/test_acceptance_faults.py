"""Acceptance 1: a hundred requests through a faulty Platform each end in exactly one dataflow."""

from __future__ import annotations

import pytest

from tests.integration.samples import sample_request
from tests.integration.scenario import Scenario, assert_one_resource_each

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAULTS = {
    "seed": 7,
    "errors": {"503": 0.10},
    "throttle": {"rate": 0.05, "retry_after_s": 1},
    "commit_then_drop": 0.03,
}


def test_a_hundred_requests_through_503s_429s_and_dropped_commits_create_a_hundred_dataflows(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    emulator.set_faults(FAULTS)
    scenario.worker(emulator, concurrency=16)
    ids = scenario.publish(sample_request(f"acc1-{n:03d}", base) for n in range(100))

    terminal = scenario.events.wait_for_terminal(ids, timeout=150)

    assert {len(events) for events in terminal.values()} == {1}, "one terminal event each"
    failed = [e[0]["data"] for e in terminal.values() if e[0]["type"] != "DataflowCreated"]
    assert failed == [], scenario.worker_logs()
    emulator.set_faults({})
    flows = {event[0]["data"]["flow_id"] for event in terminal.values()}
    assert len(flows) == 100
    assert_one_resource_each(emulator, 100)

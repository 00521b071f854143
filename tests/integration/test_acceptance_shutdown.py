"""Acceptance 6: SIGTERM in the middle of fifty requests drains, exits 0, and loses nothing."""

from __future__ import annotations

import signal
import time

import pytest

from tests.integration.harness import wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import Scenario, assert_one_resource_each

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DRAIN_SECONDS = 10


@pytest.fixture
def scenario(postgres_scenario: Scenario) -> Scenario:
    """These scenarios run on a PostgreSQL ledger, as several workers on several hosts would."""
    return postgres_scenario


def test_sigterm_mid_run_exits_0_within_the_drain_time_and_a_restart_creates_the_rest_once(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    emulator.set_faults({"latency_ms": [50, 150], "paths": "^/data/foundation/"})
    worker = scenario.worker(emulator, concurrency=8, drain_seconds=DRAIN_SECONDS)
    ids = scenario.publish(sample_request(f"acc6-{n:02d}", base) for n in range(50))

    def some_created() -> bool:
        scenario.events.drain(0)
        return len(scenario.events.of_type("DataflowCreated")) >= 5

    wait_until(some_created, timeout=60, what="the first dataflows")
    worker.signal(signal.SIGTERM)
    signalled = time.monotonic()
    assert worker.wait(DRAIN_SECONDS + 10) == 0, worker.log_tail()
    assert time.monotonic() - signalled < DRAIN_SECONDS + 5
    scenario.events.drain()
    assert len(scenario.events.terminal()) < len(ids), "SIGTERM came too late to test anything"

    scenario.worker(emulator, concurrency=8)
    terminal = scenario.events.wait_for_terminal(ids, timeout=120)
    for request_id in ids:
        assert {event["type"] for event in terminal[request_id]} == {"DataflowCreated"}
        assert len({event["id"] for event in terminal[request_id]}) == 1
    emulator.set_faults({})
    assert_one_resource_each(emulator, len(ids))

"""Takeover in seconds: a SIGKILLed worker's requests are finished by another, each resource once.

Leases are short (``DATAFLOW_LEASE_SECONDS``, 15 s by default) and renewed while a request runs,
so a killed worker's requests are taken over once its leases run out, not after the old
two-HTTP-timeouts bound. A second kind of round kills a worker while two branches of one request
(the source connection beside the schema) have both been applied and their answers are held back.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime

import pytest

from tests.integration.harness import EmulatorProcess, wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import Scenario, assert_one_resource_each

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IN_FLIGHT = 16


def creates_applied(emulator: EmulatorProcess, kind: str, count: int) -> bool:
    """True once the emulator holds ``count`` resources of ``kind``."""
    return len(emulator.resources().get(kind, [])) >= count


@pytest.mark.timeout(240)
def test_a_worker_killed_with_sixteen_requests_in_flight_is_taken_over_within_seconds(
    postgres_scenario: Scenario,
) -> None:
    scenario = postgres_scenario
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    emulator.set_faults({"latency_ms": 300, "paths": "^/data/foundation/"})
    first = scenario.worker(emulator, concurrency=IN_FLIGHT)
    ids = scenario.publish([sample_request(f"takeover-{n}", base) for n in range(IN_FLIGHT)])
    # Every request is in flight: each has made its schema (the chain is half way).
    wait_until(
        lambda: creates_applied(emulator, "schemas", IN_FLIGHT),
        timeout=60,
        what="a schema for each of the 16 requests",
        interval=0.05,
    )
    second = scenario.worker(emulator, concurrency=IN_FLIGHT)  # the queue is empty: it idles
    first.signal(signal.SIGKILL)
    killed_at = time.time()
    first.wait(10)

    terminal = scenario.events.wait_for_terminal(ids, timeout=120)
    last = max(
        datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
        for events in terminal.values()
        for e in events
    )
    for request_id in ids:
        assert {e["type"] for e in terminal[request_id]} == {"DataflowCreated"}, request_id
    assert_one_resource_each(emulator, IN_FLIGHT)
    assert second.running
    recovered = last - killed_at
    print(f"last DataflowCreated {recovered:.1f} s after the kill")
    assert recovered <= 20, scenario.worker_logs()


@pytest.mark.timeout(240)
def test_a_kill_while_two_branches_are_in_flight_adopts_or_creates_each_once(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    # Both first-branch creates are applied, then their answers are held back for 3 s.
    emulator.set_faults(
        {
            "latency_ms": 3000,
            "paths": "^/data/foundation/(flowservice/sourceConnections"
            "|schemaregistry/tenant/schemas)",
        }
    )
    worker = scenario.worker(emulator, http_timeout_seconds=10)
    [request_id] = scenario.publish([sample_request("two-branches", base)])
    wait_until(
        lambda: (
            creates_applied(emulator, "sourceConnections", 1)
            and creates_applied(emulator, "schemas", 1)
        ),
        timeout=60,
        what="both branches' creates to be applied",
        interval=0.05,
    )
    worker.signal(signal.SIGKILL)
    worker.wait(10)
    emulator.set_faults({})
    scenario.worker(emulator)
    terminal = scenario.events.wait_for_terminal([request_id], timeout=120)
    assert {e["type"] for e in terminal[request_id]} == {"DataflowCreated"}
    assert_one_resource_each(emulator, 1)
    outcomes = {
        e["data"]["step"]: e["data"]["outcome"]
        for e in scenario.events.of_type("StepCompleted")
        if e["data"]["request_id"] == request_id
    }
    assert outcomes["source_connection"] == "found"
    assert outcomes["target_schema"] == "found"

"""Acceptance 5: wrong credentials make a worker process unready and fail no request.

The emulator starts accepting one client secret (A), with a state file; the worker process is
given another (B). Requests wait, ``/readyz`` answers 503, no ``DataflowFailed`` appears and no
flow is created. Then the credentials are fixed on the emulator's side: it stops gracefully
(writing its resources, the backlog's base connection among them, to the state file) and starts
again on the same port with the same state file, now accepting secret B. The same worker process,
never restarted, probes again, becomes ready and completes the backlog: one flow per request.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import Scenario

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENT_ID = "test-client"  # what worker_env gives every worker
SECRET_A = "secret-a-the-emulator-starts-with"
SECRET_B = "secret-b-the-worker-is-given"


@pytest.fixture
def scenario(rabbitmq_url: str, tmp_path: Path) -> Iterator[Scenario]:
    """A topology, a SQLite ledger and processes, all cleaned up afterwards."""
    world = Scenario(tmp_path, rabbitmq_url, f"sqlite:///{tmp_path / 'state.db'}")
    yield world
    world.close()


def test_wrong_credentials_fail_nothing_and_the_backlog_completes_once_they_are_fixed(
    scenario: Scenario, tmp_path: Path
) -> None:
    state_file = tmp_path / "emulator-state.json"
    emulator = scenario.emulator(clients=[f"{CLIENT_ID}:{SECRET_A}"], state_file=state_file)
    base = emulator.create_base_connection(client=(CLIENT_ID, SECRET_A))
    worker = scenario.worker(emulator, ready=False, client_secret=SECRET_B)
    ids = scenario.publish(sample_request(f"acc5-{n}", base) for n in range(5))

    wait_until(lambda: worker.readyz() == 503, timeout=30, what="/readyz to answer 503")
    time.sleep(2)  # give a broken worker the time to fail requests, which it must not do
    scenario.events.drain()
    assert scenario.events.terminal() == {}
    assert emulator.counts()["flows"] == 0
    assert worker.readyz() == 503

    emulator.stop()
    assert state_file.exists()
    fixed = scenario.emulator(
        clients=[f"{CLIENT_ID}:{SECRET_B}"], state_file=state_file, port=emulator.port
    )
    assert fixed.url == emulator.url  # the worker's settings point at this port

    terminal = scenario.events.wait_for_terminal(ids, timeout=60)
    assert worker.running, worker.log_tail()
    assert {event["type"] for events in terminal.values() for event in events} == {
        "DataflowCreated"
    }
    assert worker.readyz() == 200
    flows = fixed.resources()["flows"]
    assert len(flows) == len(ids)
    assert all(count == 1 for count in Counter(flow["name"] for flow in flows).values())

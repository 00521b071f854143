"""Acceptance 5: wrong credentials make a worker process unready and fail no request.

The emulator accepts one client id and secret; the worker is given another secret. Requests
wait, ``/readyz`` answers 503 and no ``DataflowFailed`` appears. Once the credentials are fixed
the backlog completes. They are fixed on the worker's side (a new process with the right
secret): a restarted emulator would forget the base connection the backlog refers to.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import TEST_SECRET, wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import Scenario

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENT_ID = "test-client"  # what worker_env gives every worker


@pytest.fixture
def scenario(rabbitmq_url: str, tmp_path: Path) -> Iterator[Scenario]:
    """A topology, a SQLite ledger and processes, all cleaned up afterwards."""
    world = Scenario(tmp_path, rabbitmq_url, f"sqlite:///{tmp_path / 'state.db'}")
    yield world
    world.close()


def test_wrong_credentials_fail_nothing_and_the_backlog_completes_once_they_are_fixed(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator(clients=[f"{CLIENT_ID}:{TEST_SECRET}"])
    base = emulator.create_base_connection(client=(CLIENT_ID, TEST_SECRET))
    wrong = scenario.worker(emulator, ready=False, client_secret="not-the-secret")
    ids = scenario.publish(sample_request(f"acc5-{n}", base) for n in range(5))

    wait_until(lambda: wrong.readyz() == 503, timeout=30, what="/readyz to answer 503")
    time.sleep(2)  # give a broken worker the time to fail requests, which it must not do
    scenario.events.drain()
    assert scenario.events.terminal() == {}
    assert emulator.counts()["flows"] == 0
    assert wrong.readyz() == 503
    wrong.signal(signal.SIGTERM)
    assert wrong.wait(30) == 0

    fixed = scenario.worker(emulator)
    terminal = scenario.events.wait_for_terminal(ids, timeout=60)
    assert {event["type"] for events in terminal.values() for event in events} == {
        "DataflowCreated"
    }
    assert fixed.readyz() == 200
    assert emulator.counts()["flows"] == len(ids)

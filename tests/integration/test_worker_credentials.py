"""Wrong credentials stop the worker from taking work without failing any request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.testing import POSTGRES_SPEC_ID, Emulator, running_emulator
from tests.integration.harness import collecting_events, wait_until
from tests.integration.samples import sample_request
from tests.integration.worker_support import (
    publish_request,
    request_publisher,
    running_worker,
    sqlite_url,
    topology_prefix,
    worker_settings,
)

pytestmark = pytest.mark.integration

CLIENT = ("the-client", "the-secret")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An emulator that accepts only one client id and secret."""
    with running_emulator(clients=dict([CLIENT])) as emu:
        yield emu


def test_wrong_credentials_make_the_worker_unready_and_the_backlog_completes_once_fixed(
    rabbitmq_url: str, emulator: Emulator, tmp_path: Path
) -> None:
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    ids = [f"crm-auth-{n}" for n in range(3)]
    with (
        topology_prefix(rabbitmq_url) as prefix,
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
    ):
        state = sqlite_url(tmp_path)
        wrong = worker_settings(rabbitmq_url, emulator, state, prefix, client_secret="wrong")
        with running_worker(wrong) as worker:
            for request_id in ids:
                publish_request(publisher, sample_request(request_id, base))
            wait_until(lambda: worker.breaker.is_open, timeout=20, what="the circuit to open")
            assert not worker.ready
            assert worker.metrics.circuit_open._value.get() == 1
        events.drain()
        assert events.of_type("DataflowFailed") == []
        fixed = worker_settings(rabbitmq_url, emulator, state, prefix)
        with running_worker(fixed) as worker:
            terminal = events.wait_for_terminal(ids, timeout=60)
            assert worker.ready
    assert {request_id: [e["type"] for e in terminal[request_id]] for request_id in ids} == {
        request_id: ["DataflowCreated"] for request_id in ids
    }
    assert len(emulator.resources()["flows"]) == len(ids)

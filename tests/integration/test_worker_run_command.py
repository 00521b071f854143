"""`dataflow-worker run` as a process: --burst exits when done, SIGTERM drains and exits 0."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.testing import POSTGRES_SPEC_ID, Emulator, running_emulator
from tests.integration.harness import (
    WorkerProcess,
    collecting_events,
    free_port,
    wait_until,
    worker_env,
)
from tests.integration.samples import sample_request
from tests.integration.worker_support import (
    publish_request,
    request_publisher,
    sqlite_url,
    topology_prefix,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An emulator in a thread, answering each call after 50 ms."""
    with running_emulator(latency_ms=50) as emu:
        yield emu


def _env(rabbitmq_url: str, emulator: Emulator, prefix: str, tmp_path: Path) -> dict[str, str]:
    return worker_env(
        broker_url=rabbitmq_url,
        state_url=sqlite_url(tmp_path),
        prefix=prefix,
        platform_url=emulator.url,
        metrics_port=free_port(),
        concurrency=4,
        drain_seconds="10",
        client_id=emulator.client_id,
        org_id=emulator.org,
    )


def test_burst_mode_exits_0_once_every_request_is_done(
    rabbitmq_url: str, emulator: Emulator, tmp_path: Path
) -> None:
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    ids = [f"crm-burst-{n}" for n in range(4)]
    with (
        topology_prefix(rabbitmq_url) as prefix,
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
    ):
        for request_id in ids:
            publish_request(publisher, sample_request(request_id, base))
        env = _env(rabbitmq_url, emulator, prefix, tmp_path)
        worker = WorkerProcess(tmp_path, env, args=["--burst"])
        worker.start()
        try:
            assert worker.wait(timeout=60) == 0, worker.log_tail()
        finally:
            worker.stop()
        events.drain()
    assert {rid: [e["type"] for e in found] for rid, found in events.terminal().items()} == {
        rid: ["DataflowCreated"] for rid in ids
    }


def test_sigterm_drains_in_flight_work_exits_0_and_loses_nothing(
    rabbitmq_url: str, emulator: Emulator, tmp_path: Path
) -> None:
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    ids = [f"crm-term-{n}" for n in range(12)]
    with (
        topology_prefix(rabbitmq_url) as prefix,
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
    ):
        env = _env(rabbitmq_url, emulator, prefix, tmp_path)
        worker = WorkerProcess(tmp_path, env)
        worker.start()
        try:
            wait_until(lambda: worker.readyz() == 200, timeout=30, what="the worker to be ready")
            for request_id in ids:
                publish_request(publisher, sample_request(request_id, base))

            def some_started() -> bool:
                events.drain(0)
                return bool(events.of_type("StepCompleted"))

            wait_until(some_started, timeout=30, what="the first step to complete")
            worker.signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0, worker.log_tail()
        finally:
            worker.stop()
        burst = WorkerProcess(tmp_path, env, args=["--burst"])
        burst.start()
        try:
            assert burst.wait(timeout=90) == 0, burst.log_tail()
        finally:
            burst.stop()
        events.drain()
    terminal = events.terminal()
    assert {rid: [e["type"] for e in terminal.get(rid, [])] for rid in ids} == {
        rid: ["DataflowCreated"] for rid in ids
    }
    assert len(emulator.resources()["flows"]) == len(ids)


@pytest.mark.slow  # waits out the killed worker's lease (14 s)
def test_a_killed_worker_leaves_nothing_duplicated_and_another_finishes_its_requests(
    rabbitmq_url: str, emulator: Emulator, tmp_path: Path
) -> None:
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    ids = [f"crm-kill-{n}" for n in range(6)]
    emulator.set_faults({"latency_ms": 150})
    with (
        topology_prefix(rabbitmq_url) as prefix,
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
    ):
        env = {
            **_env(rabbitmq_url, emulator, prefix, tmp_path),
            "DATAFLOW_HTTP_TIMEOUT_SECONDS": "1",
        }
        victim = WorkerProcess(tmp_path, env)
        victim.start()
        try:
            wait_until(lambda: victim.readyz() == 200, timeout=30, what="the worker to be ready")
            for request_id in ids:
                publish_request(publisher, sample_request(request_id, base))

            def midway() -> bool:
                events.drain(0)
                return len(events.of_type("StepCompleted")) >= 10

            wait_until(midway, timeout=30, what="some steps to complete")
            victim.signal(signal.SIGKILL)
            victim.wait(timeout=10)
        finally:
            victim.stop()
        emulator.set_faults({})
        survivor = WorkerProcess(tmp_path, env, args=["--burst"])
        survivor.start()
        try:
            assert survivor.wait(timeout=90) == 0, survivor.log_tail()
        finally:
            survivor.stop()
        events.drain()
    terminal = events.terminal()
    assert {rid: {e["type"] for e in terminal.get(rid, [])} for rid in ids} == {
        rid: {"DataflowCreated"} for rid in ids
    }
    assert {rid: len({e["id"] for e in terminal[rid]}) for rid in ids} == dict.fromkeys(ids, 1)
    resources = emulator.resources()
    named = ("sourceConnections", "schemas", "dataSets", "targetConnections", "flows")
    assert {kind: len(resources[kind]) for kind in named} == dict.fromkeys(named, len(ids))

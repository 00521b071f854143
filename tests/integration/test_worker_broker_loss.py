"""Losing the broker connection mid-work loses nothing and creates nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.testing import POSTGRES_SPEC_ID, running_emulator
from tests.integration.harness import collecting_events, wait_until
from tests.integration.samples import sample_request
from tests.integration.tcp_proxy import CuttableProxy
from tests.integration.worker_support import (
    publish_request,
    request_publisher,
    running_worker,
    sqlite_url,
    topology_prefix,
    worker_settings,
)

pytestmark = pytest.mark.integration


def test_a_cut_broker_connection_is_reestablished_and_every_request_completes_once(
    rabbitmq_url: str, tmp_path: Path
) -> None:
    ids = [f"crm-cut-{n}" for n in range(8)]
    with (
        running_emulator(latency_ms=40) as emulator,
        CuttableProxy(("127.0.0.1", 5672)) as proxy,
        topology_prefix(rabbitmq_url) as prefix,
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
    ):
        base = emulator.create_base_connection(POSTGRES_SPEC_ID)
        via_proxy = f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
        settings = worker_settings(via_proxy, emulator, sqlite_url(tmp_path), prefix)
        with running_worker(settings) as worker:
            for request_id in ids:
                publish_request(publisher, sample_request(request_id, base))

            def started() -> bool:
                events.drain(0)
                return len(events.of_type("StepCompleted")) >= 3

            wait_until(started, timeout=30, what="the first steps to complete")
            proxy.cut()
            terminal = events.wait_for_terminal(ids, timeout=90)
            assert worker.run_until_idle(30)
            reconnects = worker.metrics.broker_reconnects_total._value.get()
        events.drain()
        flows = emulator.resources()["flows"]
    assert reconnects >= 1
    assert {rid: {e["type"] for e in terminal[rid]} for rid in ids} == {
        rid: {"DataflowCreated"} for rid in ids
    }
    assert {rid: len({e["id"] for e in events.terminal()[rid]}) for rid in ids} == dict.fromkeys(
        ids, 1
    )
    assert len(flows) == len(ids)

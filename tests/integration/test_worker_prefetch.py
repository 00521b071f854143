"""A worker takes a few deliveries more than it runs: they wait their turn, never beyond it.

With ``DATAFLOW_CONCURRENCY=2`` the worker prefetches 3 (``prefetch_for``): while two requests
run, a third delivery is already here, so a request that ends frees its slot for it at once. The
requests it runs at once (``dataflow_requests_in_flight``) never exceed the concurrency.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from emulator.testing import POSTGRES_SPEC_ID, running_emulator
from tests.integration import worker_support as support
from tests.integration.harness import collecting_events
from tests.integration.samples import sample_request
from tests.services import RABBITMQ_URL, require_service
from worker.app import Parts, Worker, prefetch_for

pytestmark = pytest.mark.integration

CONCURRENCY = 2
REQUESTS = 8


def test_prefetched_deliveries_wait_for_a_slot_and_the_concurrency_holds(tmp_path: Path) -> None:
    require_service("rabbitmq")
    registry = CollectorRegistry()
    running: list[float] = []
    taken: list[int] = []
    done = threading.Event()

    with running_emulator() as emulator, support.topology_prefix(RABBITMQ_URL) as prefix:
        base = emulator.create_base_connection(POSTGRES_SPEC_ID)
        emulator.set_faults({"latency_ms": 100, "paths": "^/data/foundation/"})
        settings = support.worker_settings(
            RABBITMQ_URL, emulator, support.sqlite_url(tmp_path), prefix, concurrency=CONCURRENCY
        )
        worker = Worker(settings, Parts(registry=registry))

        def watch() -> None:
            while not done.wait(0.005):
                running.append(registry.get_sample_value("dataflow_requests_in_flight") or 0.0)
                taken.append(worker.in_flight)

        ids = [f"pf-{n}" for n in range(REQUESTS)]
        watcher = threading.Thread(target=watch)
        with (
            collecting_events(RABBITMQ_URL, prefix) as events,
            support.request_publisher(RABBITMQ_URL, prefix) as publisher,
        ):
            worker.start()
            watcher.start()
            try:
                for request_id in ids:
                    support.publish_request(publisher, sample_request(request_id, base))
                terminal = events.wait_for_terminal(ids, timeout=120)
            finally:
                done.set()
                watcher.join()
                worker.stop(drain_seconds=5)
    assert {kinds[-1]["type"] for kinds in terminal.values()} == {"DataflowCreated"}
    assert prefetch_for(CONCURRENCY) == CONCURRENCY + 1
    assert max(running) == CONCURRENCY  # full, never more
    assert max(taken) == prefetch_for(CONCURRENCY)  # one more delivery waited its turn here


def test_the_prefetch_is_the_concurrency_and_a_quarter_more() -> None:
    assert [prefetch_for(c) for c in (1, 4, 16, 32)] == [2, 5, 20, 40]

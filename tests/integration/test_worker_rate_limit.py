"""A real worker under an organisation's rate limit lowers its limit of calls and creates all.

The emulator limits the organisation (its ``rate_limit_rps``: a token bucket, 429 with
``Retry-After`` beyond it). The worker starts with its limit at the maximum, so the limit
metric falls below the maximum only when the worker backed off; every request is still
created, none fails, and each 429 paused the whole worker.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from emulator.testing import POSTGRES_SPEC_ID, running_emulator
from tests.integration import worker_support as support
from tests.integration.harness import collecting_events, wait_until
from tests.integration.samples import sample_request
from tests.services import RABBITMQ_URL, require_service
from worker.app import Parts, Worker

pytestmark = pytest.mark.integration

REQUESTS = 30
LIMIT_RPS = 20
MAX_IN_FLIGHT = 4  # the limit's starting point too: below it means the worker backed off


def test_a_worker_under_a_rate_limit_backs_off_and_creates_every_request(
    tmp_path: Path,
) -> None:
    require_service("rabbitmq")
    registry = CollectorRegistry()

    def sample(name: str) -> float:
        return registry.get_sample_value(f"dataflow_platform_{name}") or 0.0

    with running_emulator() as emulator, support.topology_prefix(RABBITMQ_URL) as prefix:
        base = emulator.create_base_connection(POSTGRES_SPEC_ID)
        emulator.set_faults({"rate_limit_rps": LIMIT_RPS})
        settings = support.worker_settings(
            RABBITMQ_URL,
            emulator,
            support.sqlite_url(tmp_path),
            prefix,
            concurrency=8,
            platform_max_in_flight=MAX_IN_FLIGHT,
            retry_max_attempts=20,
        )
        worker = Worker(settings, Parts(registry=registry))
        ids = [f"rl-{n}" for n in range(REQUESTS)]
        with (
            collecting_events(RABBITMQ_URL, prefix) as events,
            support.request_publisher(RABBITMQ_URL, prefix) as publisher,
        ):
            worker.start()
            try:
                assert sample("concurrency_limit") == MAX_IN_FLIGHT
                for request_id in ids:
                    support.publish_request(publisher, sample_request(request_id, base))
                wait_until(
                    lambda: sample("concurrency_limit") < MAX_IN_FLIGHT,
                    timeout=120,
                    what="the limit to fall below its maximum",
                    interval=0.01,
                )
                terminal = events.wait_for_terminal(ids, timeout=300)
            finally:
                worker.stop(drain_seconds=5)
        throttled = [call for call in emulator.requests() if call["status"] == 429]
    assert {kinds[-1]["type"] for kinds in terminal.values()} == {"DataflowCreated"}
    assert registry.get_sample_value("dataflow_requests_finished_total", {"outcome": "failed"}) == 0
    assert throttled
    assert sample("paused_seconds_total") > 0
    assert sample("calls_in_flight") == 0

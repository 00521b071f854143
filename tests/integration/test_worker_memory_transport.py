"""The worker on kombu's in-process transport (the demo's): retries wait in timers, not queues."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

from emulator.testing import POSTGRES_SPEC_ID, running_emulator
from tests.integration.samples import sample_request
from tests.integration.worker_support import (
    publish_request,
    request_publisher,
    running_worker,
    sqlite_url,
    worker_settings,
)
from worker.core.steps import Step

pytestmark = pytest.mark.integration


def test_on_the_memory_transport_retried_requests_finish_before_the_worker_is_idle(
    tmp_path: Path,
) -> None:
    prefix = f"mem{uuid.uuid4().hex[:8]}"
    ids = [f"crm-mem-{n}" for n in range(4)]
    with running_emulator() as emulator:
        base = emulator.create_base_connection(POSTGRES_SPEC_ID)
        emulator.set_faults({"errors": {"503": 0.3}, "seed": 7})
        settings = worker_settings("memory://", emulator, sqlite_url(tmp_path), prefix)
        with Connection("memory://") as connection:
            seen = Queue(
                f"{prefix}.seen",
                exchange=Exchange(f"{prefix}.events", type="topic"),
                routing_key="#",
            )
            seen.bind(connection.default_channel).declare()
            with running_worker(settings) as worker, request_publisher("memory://", prefix) as p:
                for request_id in ids:
                    publish_request(p, sample_request(request_id, base))
                assert worker.run_until_idle(60)
                retried = sum(
                    worker.metrics.retries_scheduled_total.labels(step=s.value)._value.get()
                    for s in Step
                )
            channel = connection.default_channel
            events = []
            while (message := channel.basic_get(f"{prefix}.seen", no_ack=True)) is not None:
                events.append(json.loads(message.body))
    terminal = {e["data"]["request_id"]: e["type"] for e in events if e["type"] != "StepCompleted"}
    assert terminal == dict.fromkeys(ids, "DataflowCreated")
    assert retried >= 1

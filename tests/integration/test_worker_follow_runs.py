"""A worker following runs reports the flow's first run once the emulator's clock has moved."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue

from emulator.runs import RUN_ERRORS
from emulator.testing import FLOWSERVICE, POSTGRES_SPEC_ID, Emulator, running_emulator
from tests.integration.samples import sample_request
from tests.integration.worker_support import (
    publish_request,
    request_publisher,
    running_worker,
    sqlite_url,
    worker_settings,
)

pytestmark = pytest.mark.integration


def wait_for_flow(emulator: Emulator, timeout: float = 30) -> str:
    """The id of the first flow the emulator holds, once the worker has created it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flows = emulator.resources()["flows"]
        if flows:
            return str(flows[0]["id"])
        time.sleep(0.1)
    raise AssertionError("the worker created no flow")


def test_a_followed_request_reports_its_first_run_after_the_clock_moves(tmp_path: Path) -> None:
    prefix = f"follow{uuid.uuid4().hex[:8]}"
    request_id = f"crm-follow-{uuid.uuid4().hex[:8]}"
    with running_emulator(faults={"seed": 5, "run_failure_rate": 1}) as emulator:
        base = emulator.create_base_connection(POSTGRES_SPEC_ID)
        settings = worker_settings(
            "memory://", emulator, sqlite_url(tmp_path), prefix, follow_first_wait_seconds=0.2
        )
        with Connection("memory://") as connection:
            seen = Queue(
                f"{prefix}.seen",
                exchange=Exchange(f"{prefix}.events", type="topic"),
                routing_key="#",
            )
            seen.bind(connection.default_channel).declare()
            with running_worker(settings) as worker, request_publisher("memory://", prefix) as p:
                publish_request(p, {**sample_request(request_id, base), "follow_runs": True})
                flow = wait_for_flow(emulator)
                emulator.advance_clock(2 * 3600)  # an hourly schedule: at least one run
                assert worker.run_until_idle(60)
            events: list[dict[str, Any]] = []
            channel = connection.default_channel
            while (message := channel.basic_get(f"{prefix}.seen", no_ack=True)) is not None:
                events.append(json.loads(message.body))
        with emulator.client() as http:
            runs = http.get(f"{FLOWSERVICE}/runs", params={"property": f"flowId=={flow}"}).json()
    first = min(runs["items"], key=lambda run: run["metrics"]["durationSummary"]["startedAtUTC"])
    completed = [e["data"] for e in events if e["type"] == "DataflowRunCompleted"]
    assert len(completed) == 1
    assert completed[0]["request_id"] == request_id
    assert completed[0]["flow_id"] == flow
    assert completed[0]["run_id"] == first["id"]
    assert completed[0]["status"] == "failed"
    assert completed[0]["errors"][0]["code"] in {code for code, _ in RUN_ERRORS}
    assert (
        completed[0]["records"]["failed"]
        == (first["metrics"]["recordSummary"]["failedRecordCount"])
    )

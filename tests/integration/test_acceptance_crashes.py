"""Acceptance 2: workers killed with SIGKILL mid-step and between steps lose and duplicate nothing.

Each round starts a worker process, publishes one fresh request and kills the worker at a chosen
moment: in a step's dangerous window (the emulator has applied the create but holds the response
back, made long by latency injected on that step's path only) or right after a step's
``StepCompleted``. A last worker finishes everything: every request must end created, with
exactly one Platform resource of each kind per request.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tests.integration.harness import EmulatorProcess, wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import CREATES, Scenario, assert_one_resource_each

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# A killed worker's lease outlives it by about twice its HTTP timeout; keep that short, but
# above the 3 s the dangerous windows hold a response back.
HTTP_TIMEOUT = 5
BOUNDARIES = (
    "flow_spec",
    "source_connection",
    "target_schema",
    "target_dataset",
    "target_connection",
    "mapping_set",
)


def applied(emulator: EmulatorProcess, kind: str, request_id: str, before: int) -> bool:
    """True once the emulator holds the request's resource of ``kind`` (mapping sets: one more)."""
    items: list[dict[str, Any]] = emulator.resources().get(kind, [])
    if kind == "mappingSets":  # mapping sets carry no name
        return len(items) > before
    tag = f"[{request_id}]"
    return any(tag in str(item.get("name") or item.get("title") or "") for item in items)


def kill_in_dangerous_window(
    scenario: Scenario, emulator: EmulatorProcess, base: str, step: str
) -> str:
    """One round: the create of ``step`` is applied, its response held back; SIGKILL now."""
    kind, path = CREATES[step]
    request_id = f"acc2-window-{step}"
    emulator.set_faults({"latency_ms": 3000, "paths": path})
    worker = scenario.worker(emulator, http_timeout_seconds=HTTP_TIMEOUT)
    before = len(emulator.resources().get(kind, []))
    scenario.publish([sample_request(request_id, base)])
    wait_until(
        lambda: applied(emulator, kind, request_id, before),
        timeout=60,
        what=f"the {step} create of {request_id}",
        interval=0.05,
    )
    worker.signal(signal.SIGKILL)
    worker.wait(10)
    return request_id


def kill_at_boundary(scenario: Scenario, emulator: EmulatorProcess, base: str, step: str) -> str:
    """One round: SIGKILL as soon as the request's ``StepCompleted`` for ``step`` is out."""
    request_id = f"acc2-boundary-{step}"
    emulator.set_faults({"latency_ms": 400, "paths": "^/data/foundation/"})
    worker = scenario.worker(emulator, http_timeout_seconds=HTTP_TIMEOUT)
    scenario.publish([sample_request(request_id, base)])

    def completed() -> bool:
        scenario.events.drain(0)
        return any(
            event["data"]["request_id"] == request_id and event["data"]["step"] == step
            for event in scenario.events.of_type("StepCompleted")
        )

    wait_until(completed, timeout=60, what=f"StepCompleted {step} of {request_id}")
    worker.signal(signal.SIGKILL)
    worker.wait(10)
    return request_id


@pytest.mark.timeout(400)
def test_requests_killed_in_every_dangerous_window_and_at_every_boundary_end_created_once(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    ids = [kill_in_dangerous_window(scenario, emulator, base, step) for step in CREATES]
    ids += [kill_at_boundary(scenario, emulator, base, step) for step in BOUNDARIES]

    emulator.set_faults({})
    scenario.worker(emulator, concurrency=4, http_timeout_seconds=HTTP_TIMEOUT)
    terminal = scenario.events.wait_for_terminal(ids, timeout=150)

    for request_id in ids:
        kinds = {event["type"] for event in terminal[request_id]}
        assert kinds == {"DataflowCreated"}, (request_id, terminal[request_id])
        assert len({event["id"] for event in terminal[request_id]}) == 1, "one terminal event"
    assert_one_resource_each(emulator, len(ids))

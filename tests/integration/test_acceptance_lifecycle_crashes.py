"""Issue 10, acceptance 2: workers SIGKILLed during an update and during a deletion.

Each round kills a worker in a dangerous window: the emulator has applied the call (a new mapping
set, the flow's PATCH, a DELETE) but holds its answer back. A last worker finishes everything:
one flow per updated dataflow (none after a deletion), no mapping set beyond the one the update
needed, and the right terminal event, once.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.harness import EmulatorProcess, wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import Scenario

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HTTP_TIMEOUT = 5
HOLD = {"latency_ms": 3000}
NEW_MAPPINGS = [
    {"source": "id", "destination": "_id"},
    {"source": "email", "destination": "personalEmail.address"},
    {"source": "first_name", "destination": "person.name.lastName"},
]


def created(scenario: Scenario, request: dict[str, Any]) -> dict[str, Any]:
    """Publish a request and wait for its DataflowCreated."""
    scenario.publish([request])
    rid = request["request_id"]
    terminal = scenario.events.wait_for_terminal([rid], timeout=60)[rid]
    assert terminal[-1]["type"] == "DataflowCreated", terminal
    return dict(terminal[-1]["data"])


def kill_when(
    scenario: Scenario,
    emulator: EmulatorProcess,
    path: str,
    send: Callable[[], object],
    applied: Callable[[], bool],
    what: str,
) -> None:
    """Start a worker, send the command, SIGKILL the worker once the held call was applied."""
    emulator.set_faults({**HOLD, "paths": path})
    worker = scenario.worker(emulator, http_timeout_seconds=HTTP_TIMEOUT)
    send()
    wait_until(applied, timeout=60, what=what, interval=0.05)
    worker.signal(signal.SIGKILL)
    worker.wait(10)


def ids(emulator: EmulatorProcess, kind: str) -> set[str]:
    return {str(item["id"]) for item in emulator.resources().get(kind, [])}


@pytest.mark.timeout(300)
def test_updates_and_deletions_killed_mid_call_finish_once_without_duplicates(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    scenario.worker(emulator, http_timeout_seconds=HTTP_TIMEOUT)
    mapped = sample_request("crash-mappings", base)
    patched = sample_request("crash-patch", base)
    removed = sample_request("crash-delete", base)
    first = {r["request_id"]: created(scenario, r) for r in (mapped, patched, removed)}
    scenario.processes[-1].stop()
    sets_before = len(ids(emulator, "mappingSets"))

    kill_when(
        scenario,
        emulator,
        "^/data/foundation/conversion/mappingSets",
        lambda: scenario.publish([{**mapped, "revision": 2, "mappings": NEW_MAPPINGS}]),
        lambda: len(ids(emulator, "mappingSets")) > sets_before,
        "the update's new mapping set",
    )
    flow_id = first["crash-patch"]["flow_id"]
    schedule = {**patched["schedule"], "interval": 6}

    def patch_applied() -> bool:
        [flow] = emulator.platform("GET", f"/flowservice/flows/{flow_id}")["items"]
        return int(flow["scheduleParams"].get("interval", 0)) == 6

    kill_when(
        scenario,
        emulator,
        f"^/data/foundation/flowservice/flows/{flow_id}$",
        lambda: scenario.publish([{**patched, "revision": 2, "schedule": schedule}]),
        patch_applied,
        "the update's flow PATCH",
    )
    dataset_id = first["crash-delete"]["dataset_id"]
    kill_when(
        scenario,
        emulator,
        "^/data/foundation/catalog/dataSets",
        lambda: scenario.delete("crash-delete"),
        lambda: dataset_id not in ids(emulator, "dataSets"),
        "the deletion of the dataset",
    )

    emulator.set_faults({})
    scenario.worker(emulator, http_timeout_seconds=HTTP_TIMEOUT)
    every = ["crash-mappings", "crash-patch", "crash-delete"]

    def ended() -> bool:
        scenario.events.drain(0)
        terminal = scenario.events.terminal()
        return all(len(terminal.get(rid, [])) >= 2 for rid in every)

    wait_until(ended, timeout=120, what="the update and deletion terminal events")
    terminal = scenario.events.terminal()
    assert [e["type"] for e in terminal["crash-mappings"]] == ["DataflowCreated", "DataflowUpdated"]
    assert [e["type"] for e in terminal["crash-patch"]] == ["DataflowCreated", "DataflowUpdated"]
    assert [e["type"] for e in terminal["crash-delete"]] == ["DataflowCreated", "DataflowDeleted"]
    assert terminal["crash-mappings"][1]["data"]["flow_id"] == first["crash-mappings"]["flow_id"]
    assert len(ids(emulator, "mappingSets")) == sets_before + 1  # one new set, not two
    flows = ids(emulator, "flows")
    assert flows == {first["crash-mappings"]["flow_id"], flow_id}
    deleted = terminal["crash-delete"][1]["data"]["deleted"]
    assert deleted["target_dataset"] == dataset_id
    assert deleted["dataflow"] == first["crash-delete"]["flow_id"]

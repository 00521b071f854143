"""Acceptance 7: ``dlq replay`` resumes a request at the step the Platform refused.

The emulator refuses every target connection (an injected 400 on that path), so the request
fails at ``target_connection`` and is parked, after its source connection, schema and dataset
were created. With the refusal removed, ``dlq replay`` re-drives it from there: those three are
reused, not created again, and the request ends in a new terminal event.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.integration.harness import wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import Scenario
from worker.cli import cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REFUSE_TARGETS = {
    "errors": {"400": 1.0},
    "paths": "^/data/foundation/flowservice/targetConnections",
}


def test_a_request_refused_at_target_connection_is_replayed_from_there_reusing_what_exists(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    emulator.set_faults(REFUSE_TARGETS)
    scenario.worker(emulator)
    [request_id] = scenario.publish([sample_request("acc7-1", base)])
    [failed] = scenario.events.wait_for_terminal([request_id], timeout=60)[request_id]
    assert failed["type"] == "DataflowFailed"
    assert failed["data"]["step"] == "target_connection"
    assert failed["data"]["error"]["kind"] == "rejected"
    created_before = failed["data"]["created"]
    env = {
        "DATAFLOW_BROKER_URL": scenario.broker_url,
        "DATAFLOW_TOPOLOGY_PREFIX": scenario.prefix,
        "DATAFLOW_STATE_URL": scenario.state_url,
    }

    def parked() -> list[dict[str, str]]:
        result = CliRunner().invoke(cli, ["dlq", "list", "--json"], env=env)
        assert result.exit_code == 0, result.output
        rows: list[dict[str, str]] = json.loads(result.output)
        return rows

    rows = wait_until(parked, timeout=20, what="the failed request in the parking lot")
    assert [(row["request_id"], row["reason"]) for row in rows] == [(request_id, "rejected")]

    emulator.set_faults({})
    result = CliRunner().invoke(cli, ["dlq", "replay", request_id], env=env)
    assert result.exit_code == 0, result.output
    assert f"{request_id}: replayed: re-driven from target_connection" in result.output

    def created() -> bool:
        scenario.events.drain(0)
        return bool(scenario.events.of_type("DataflowCreated"))

    wait_until(created, timeout=60, what="the replayed request's DataflowCreated")
    [done] = scenario.events.of_type("DataflowCreated")
    assert done["id"] != failed["id"]
    for step, key in (
        ("source_connection", "source_connection_id"),
        ("target_schema", "schema_id"),
        ("target_dataset", "dataset_id"),
    ):
        assert done["data"][key] == created_before[step], step
    assert set(emulator.counts().values()) == {1}
    assert parked() == []


REFUSE_FLOWS = {"errors": {"400": 1.0}, "paths": "^/data/foundation/flowservice/flows"}


def test_a_rolled_back_request_replayed_after_the_cause_is_fixed_creates_everything_anew(
    scenario: Scenario,
) -> None:
    emulator = scenario.emulator()
    base = emulator.create_base_connection()
    emulator.set_faults(REFUSE_FLOWS)
    scenario.worker(emulator)
    request = sample_request("rollback-replay", base, on_failure="rollback")
    [request_id] = scenario.publish([request])
    [failed] = scenario.events.wait_for_terminal([request_id], timeout=60)[request_id]
    assert failed["data"]["step"] == "dataflow"
    assert failed["data"]["rolled_back"] == [
        "target_connection",
        "target_dataset",
        "target_schema",
        "source_connection",
    ]
    assert emulator.counts()["sourceConnections"] == 0
    env = {
        "DATAFLOW_BROKER_URL": scenario.broker_url,
        "DATAFLOW_TOPOLOGY_PREFIX": scenario.prefix,
        "DATAFLOW_STATE_URL": scenario.state_url,
    }
    wait_until(
        lambda: (
            CliRunner().invoke(cli, ["dlq", "list", "--json"], env=env).output.strip()
            not in ("", "[]")
        ),
        timeout=20,
        what="the rolled-back request in the parking lot",
    )

    emulator.set_faults({})  # the cause is removed
    result = CliRunner().invoke(cli, ["dlq", "replay", request_id], env=env)
    assert result.exit_code == 0, result.output

    def created() -> bool:
        scenario.events.drain(0)
        return bool(scenario.events.of_type("DataflowCreated"))

    wait_until(created, timeout=60, what="the replayed request's DataflowCreated")
    [done] = scenario.events.of_type("DataflowCreated")
    resources = emulator.resources()
    flow = next(f for f in resources["flows"] if f["id"] == done["data"]["flow_id"])
    source_ids = {item["id"] for item in resources["sourceConnections"]}
    target_ids = {item["id"] for item in resources["targetConnections"]}
    assert done["data"]["source_connection_id"] in source_ids
    assert done["data"]["target_connection_id"] in target_ids
    assert flow is not None
    assert emulator.counts()["flows"] == 1

"""Issue 11: when the Platform refuses a request, its own explanation reaches the people.

Four requests, each refused by a different Platform API through bad input (an unknown base
connection, an unknown field group, an unknown dataset, a mapping into a field the schema does
not have), are onboarded with ``onboard --wait --report`` against a worker process and the
emulator. The emulator's explanation of each refusal must show in the ``DataflowFailed`` event,
in ``status``, in ``dlq list`` and in the onboarding report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.integration.harness import wait_until
from tests.integration.samples import sample_request
from tests.integration.scenario import Scenario
from worker.cli import cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UNKNOWN_BASE = "6990abad-0b5e-4d3c-9d51-000000000000"
UNKNOWN_GROUP = "https://ns.adobe.com/xdm/context/no-such-field-group"
UNKNOWN_DATASET = "5c8c3c555033b814b69f947f"


def refused_requests(base: str) -> dict[str, tuple[dict[str, Any], str, str]]:
    """Request id -> (request, the step the Platform refuses, what the Platform says)."""
    fine = sample_request("msg-x", base)
    return {
        "msg-flowservice": (
            sample_request("msg-flowservice", UNKNOWN_BASE),
            "source_connection",
            f"Base connection {UNKNOWN_BASE} is not found. Verify the base connection ID.",
        ),
        "msg-schemaregistry": (
            sample_request(
                "msg-schemaregistry",
                base,
                target={
                    "schema": {
                        **fine["target"]["schema"],
                        "field_groups": [*fine["target"]["schema"]["field_groups"], UNKNOWN_GROUP],
                    }
                },
            ),
            "target_schema",
            f"The referenced resource {UNKNOWN_GROUP} does not exist",
        ),
        "msg-catalog": (
            sample_request(
                "msg-catalog", base, target={**fine["target"], "dataset_id": UNKNOWN_DATASET}
            ),
            "target_dataset",
            f"The requested dataSets resource {UNKNOWN_DATASET} is not found.",
        ),
        "msg-dataprep": (
            sample_request(
                "msg-dataprep",
                base,
                mappings=[
                    *fine["mappings"],
                    {"source": "updated_at", "destination": "noSuch.field"},
                ],
            ),
            "mapping_set",
            "Destination paths not found in schema",
        ),
    }


def cli_json(args: list[str], env: dict[str, str]) -> Any:
    """Run a command with ``--json`` and return what it printed."""
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def one_line(text: str) -> str:
    """``text`` with every run of white space as one space (rich wraps long lines)."""
    return " ".join(text.split())


def test_each_apis_explanation_reaches_the_event_status_dlq_and_the_onboarding_report(
    scenario: Scenario, tmp_path: Path
) -> None:
    emulator = scenario.emulator()
    cases = refused_requests(emulator.create_base_connection())
    scenario.worker(emulator)
    manifest, report = tmp_path / "tables.json", tmp_path / "report.json"
    manifest.write_text(json.dumps([request for request, _, _ in cases.values()]), "utf-8")
    env = {
        "DATAFLOW_BROKER_URL": scenario.broker_url,
        "DATAFLOW_TOPOLOGY_PREFIX": scenario.prefix,
        "DATAFLOW_STATE_URL": scenario.state_url,
    }

    onboarded = CliRunner().invoke(
        cli,
        ["onboard", str(manifest), "--wait", "--timeout", "120", "--report", str(report)],
        env=env,
    )

    assert onboarded.exit_code == 1, onboarded.output  # every table failed
    terminal = scenario.events.wait_for_terminal(cases, timeout=30)
    rows = {row["request_id"]: row for row in json.loads(report.read_text("utf-8"))}

    def all_parked() -> dict[str, Any] | None:
        listed = cli_json(["dlq", "list", "--json"], env)
        return {row["request_id"]: row for row in listed} if len(listed) == len(cases) else None

    parked = wait_until(all_parked, timeout=20, what="every refused request in the parking lot")
    for request_id, (_, step, said) in cases.items():
        [failed] = terminal[request_id]
        assert failed["type"] == "DataflowFailed", request_id
        assert failed["data"]["step"] == step, request_id
        assert failed["data"]["error"]["kind"] == "rejected", request_id
        assert said in failed["data"]["error"]["message"], request_id
        status = cli_json(["status", "--json", request_id], env)
        assert said in status["last_error"]["message"], request_id
        shown = CliRunner().invoke(cli, ["status", request_id], env=env)
        assert one_line(said) in one_line(shown.output), request_id
        assert said in parked[request_id]["message"], request_id
        assert said in rows[request_id]["error"], request_id
        assert one_line(said) in one_line(onboarded.output), request_id

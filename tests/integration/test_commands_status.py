"""``dataflow-worker status`` against a real SQLite ledger written the way the worker writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import ledger_ops as ops
from worker.cli import cli
from worker.ledger import open_ledger

pytestmark = pytest.mark.integration


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    """A ledger with one request waiting for a retry and one that failed."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_ledger(url) as ledger:
        claim = ledger.claim("crm-1", "a" * 64, "{}", "e-1", "w1", 60, now=1000.0)
        assert claim.fence is not None
        ops.record_intent(ledger, "crm-1", claim.fence, "flow_spec", now=1000.5)
        ops.complete_step(ledger, "crm-1", claim.fence, "flow_spec", "spec-1", "found", 1, 0.2)
        error = {"kind": "retryable", "message": "service unavailable", "status": 503}
        ops.record_intent(
            ledger, "crm-1", claim.fence, "source_connection", "crm 1 (source) [crm-1]"
        )
        ops.schedule_retry(ledger, "crm-1", claim.fence, 1060.0, error, now=1001.0)

        claim = ledger.claim("crm-2", "b" * 64, "{}", "e-2", "w1", 60, now=1000.0)
        assert claim.fence is not None
        ops.record_intent(ledger, "crm-2", claim.fence, "flow_spec")
        rejected = {"kind": "rejected", "message": "no such base connection", "status": 400}
        ops.fail_step(ledger, "crm-2", claim.fence, "flow_spec", rejected, 1)
        ops.finish(ledger, "crm-2", claim.fence, "failed", b"{}", rejected)
    return url


def test_status_of_one_request_shows_its_steps_and_next_retry(state_url: str) -> None:
    result = CliRunner().invoke(
        cli, ["status", "--json", "crm-1"], env={"DATAFLOW_STATE_URL": state_url}
    )
    assert result.exit_code == 0, result.output
    view = json.loads(result.output)
    assert view["status"] == "waiting_retry"
    assert view["next_retry_at"] == "1970-01-01T00:17:40Z"
    assert [step["step"] for step in view["steps"]] == ["flow_spec", "source_connection"]
    assert view["steps"][0]["resource_id"] == "spec-1"
    assert view["last_error"]["status"] == 503


def test_the_summary_counts_statuses_and_lists_the_failure(state_url: str) -> None:
    result = CliRunner().invoke(cli, ["status", "--json"], env={"DATAFLOW_STATE_URL": state_url})
    assert result.exit_code == 0, result.output
    view = json.loads(result.output)
    assert view["counts"] == {"failed": 1, "waiting_retry": 1}
    assert [failure["request_id"] for failure in view["recent_failures"]] == ["crm-2"]
    assert view["recent_failures"][0]["kind"] == "rejected"


def test_the_tables_are_printed_for_people(state_url: str) -> None:
    result = CliRunner().invoke(cli, ["status"], env={"DATAFLOW_STATE_URL": state_url})
    assert result.exit_code == 0, result.output
    assert "2 requests" in result.output
    assert "crm-2" in result.output
    assert "rejected" in result.output


def test_an_unknown_request_is_one_line_and_exit_1(state_url: str) -> None:
    result = CliRunner().invoke(cli, ["status", "nope"], env={"DATAFLOW_STATE_URL": state_url})
    assert result.exit_code == 1
    assert result.output == "error: no request 'nope' in the ledger\n"


def test_a_missing_sqlite_ledger_is_reported_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    result = CliRunner().invoke(cli, ["status"], env={"DATAFLOW_STATE_URL": url})
    assert result.exit_code == 1
    assert (
        result.output == f"error: no ledger at {tmp_path / 'absent.db'} (set DATAFLOW_STATE_URL)\n"
    )
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.parametrize(
    ("state", "expected"),
    [("failed", ["crm-2"]), ("waiting_retry", ["crm-1"]), ("created", [])],
)
def test_status_lists_the_requests_in_one_state(
    state_url: str, state: str, expected: list[str]
) -> None:
    args = ["status", "--status", state, "--json"]
    result = CliRunner().invoke(cli, args, env={"DATAFLOW_STATE_URL": state_url})
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["request_id"] for row in rows] == expected
    assert all(row["status"] == state for row in rows)


def test_the_list_of_failed_requests_shows_the_step_and_the_error(state_url: str) -> None:
    args = ["status", "--status", "failed"]
    result = CliRunner().invoke(cli, args, env={"DATAFLOW_STATE_URL": state_url})
    assert result.exit_code == 0, result.output
    assert "1 failed request" in result.output
    [row] = [line for line in result.output.splitlines() if "crm-2" in line]
    assert "flow_spec" in row
    assert "rejected HTTP 400: no such base connection" in row


def test_the_list_of_waiting_requests_shows_their_step_and_next_retry(state_url: str) -> None:
    args = ["status", "--status", "waiting_retry"]
    result = CliRunner().invoke(cli, args, env={"DATAFLOW_STATE_URL": state_url})
    assert result.exit_code == 0, result.output
    [row] = [line for line in result.output.splitlines() if "crm-1" in line]
    assert "source_connection" in row
    assert "1970-01-01T00:17:40Z" in row


def test_a_request_id_and_a_status_together_are_a_usage_error(state_url: str) -> None:
    args = ["status", "crm-1", "--status", "failed"]
    result = CliRunner().invoke(cli, args, env={"DATAFLOW_STATE_URL": state_url})
    assert result.exit_code == 2
    assert "give REQUEST_ID or --status, not both" in result.output

"""The pure parts of ``enable``/``disable``, ``delete`` and ``audit``: rules and lines."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from tests.unit.test_platform_drift import record as created_record
from worker.commands.audit import Audited, render, shown
from worker.commands.delete import outcome_line
from worker.commands.flowstate import decide
from worker.core.record import RequestRecord, RequestStatus
from worker.onboarding.tracking import TableRow
from worker.platform.drift import Drift, applied_of


def record(status: RequestStatus, *, enabled: bool = True, revision: int = 3) -> RequestRecord:
    """A record whose latest revision asks for ``enabled``."""
    content = '{"name": "crm"}' if enabled else '{"enabled": false, "name": "crm"}'
    return RequestRecord("crm-1", "h", content, "e-1", status, 0.0, 0.0, revision=revision)


@pytest.mark.parametrize(
    ("status", "enabled_now", "enable", "action", "line"),
    [
        ("created", True, False, "publish", "crm-1: revision 4 (disabled)"),
        ("updated", False, False, "already", "crm-1: already disabled at revision 3"),
        ("running", False, False, "already", "crm-1: already disabling at revision 3 (running)"),
        ("failed", False, False, "publish", "crm-1: revision 4 (disabled)"),
        ("updated", False, True, "publish", "crm-1: revision 4 (enabled)"),
        ("created", True, True, "already", "crm-1: already enabled at revision 3"),
    ],
)
def test_a_switch_publishes_the_next_revision_unless_the_latest_already_asks_for_it(
    status: RequestStatus, enabled_now: bool, enable: bool, action: str, line: str
) -> None:
    decision = decide("crm-1", record(status, enabled=enabled_now), enabled=enable)
    assert (decision.action, decision.line) == (action, line)


def test_an_unknown_or_deleted_dataflow_cannot_be_switched() -> None:
    assert decide("crm-9", None, enabled=False).line == "crm-9: not in the ledger"
    deleted = decide("crm-1", record("deleted"), enabled=True)
    assert deleted.action == "refuse"
    assert deleted.line.startswith("crm-1: deleted at revision 3; nothing to switch")


def test_a_deletion_line_says_what_went_newest_first_and_what_stayed_and_why() -> None:
    ending: dict[str, Any] = {
        "deleted": {"source_connection": "s-1", "dataflow": "f-1", "target_connection": "t-1"},
        "kept": {"target_schema": {"id": "x-1", "reason": "reused"}},
    }
    row = TableRow("-", "crm-1", "deleted", flow_id="f-1")
    assert outcome_line(row, ending) == (
        "deleted crm-1: deleted dataflow f-1, target_connection t-1, source_connection s-1; "
        "kept target_schema x-1 (reused)"
    )
    nothing = outcome_line(row, {"deleted": {}, "kept": {}})
    assert nothing == "deleted crm-1: nothing left to delete"
    failed = TableRow("-", "crm-9", "failed", error="rejected at -: unknown request crm-9")
    assert outcome_line(failed, None) == "failed crm-9: rejected at -: unknown request crm-9"


@pytest.mark.parametrize(
    ("value", "cell"),
    [(None, "missing"), ("flow-1", "flow-1"), ({"b": 1, "a": "x"}, '{"a": "x", "b": 1}')],
)
def test_a_value_is_shown_whole_and_missing_says_so(value: Any, cell: str) -> None:
    assert shown(value) == cell


def test_the_audit_table_has_a_row_per_difference() -> None:
    applied = applied_of(created_record())
    drifted = Audited(created_record(), applied, (Drift("flow", "flow-1", None),))
    clean = Audited(created_record(), applied)
    console = Console(width=200, record=True)
    console.print(render([drifted, clean]))
    text = console.export_text()
    assert "1 dataflow drifted of 2" in text
    assert [line for line in text.splitlines() if "flow-1" in line] == [
        next(line for line in text.splitlines() if "crm-1" in line)
    ]
    assert drifted.as_json() == {
        "request_id": "crm-1",
        "flow_id": "flow-1",
        "revision": 2,
        "drift": [{"field": "flow", "expected": "flow-1", "actual": None}],
    }

"""Planning a manifest against the ledger, the next revision of a recorded request, deletions."""

from __future__ import annotations

from typing import Any

import pytest

from messages import DataflowRequested, InvalidMessageError, canonical_content, decode
from tests.integration.samples import sample_request
from worker.core.record import RequestRecord, RequestStatus, StepRecord
from worker.onboarding.lifecycle import as_revision, deletion, next_revision
from worker.onboarding.plan import counts_line, last_failure, plan_table, prune_plans

T0 = 1_795_000_000.0
HOURLY = {"frequency": "hour", "interval": 2, "start_time": 1795000000}


def request(request_id: str = "crm-1", base: str = "base-1", **changes: Any) -> DataflowRequested:
    """A valid request of a table of ``base``."""
    return DataflowRequested.model_validate(sample_request(request_id, base, **changes))


def recorded(
    what: DataflowRequested, status: RequestStatus = "created", revision: int = 1, **fields: Any
) -> RequestRecord:
    """The ledger's record of ``what`` at ``revision``."""
    content = canonical_content(what).decode()
    return RequestRecord(
        what.request_id, "h", content, "e-1", status, T0, T0, revision=revision, **fields
    )


@pytest.mark.parametrize(
    ("status", "changes", "kind", "fields", "revision", "detail"),
    [
        (None, {}, "create", (), 1, "create"),
        ("created", {}, "unchanged", (), None, "unchanged"),
        ("updated", {}, "unchanged", (), None, "unchanged"),
        ("running", {}, "unchanged", (), None, "unchanged (running)"),
        ("failed", {}, "unchanged", (), None, "unchanged (failed)"),
        ("created", {"schedule": HOURLY}, "update", ("schedule",), 4, None),
        ("failed", {"enabled": False}, "update", ("enabled",), 4, None),
        ("deleted", {}, "create", (), 4, "create (revision 4, after its deletion)"),
        ("created", {"name": "other"}, "conflict", ("name",), None, None),
    ],
)
def test_each_table_is_planned_from_the_ledgers_record_of_its_request(
    status: RequestStatus | None,
    changes: dict[str, Any],
    kind: str,
    fields: tuple[str, ...],
    revision: int | None,
    detail: str | None,
) -> None:
    record = None if status is None else recorded(request(), status, revision=3)
    plan = plan_table(request(**changes), "public.crm_1", record)
    assert (plan.kind, plan.fields, plan.revision) == (kind, fields, revision)
    if detail is not None:
        assert plan.line() == f"plan crm-1 public.crm_1: {detail}"


def test_an_update_says_which_fields_and_a_conflict_what_to_do() -> None:
    record = recorded(request(), "created", revision=3)
    update = plan_table(request(schedule=HOURLY, enabled=False), "t", record)
    assert update.detail == "update: enabled, schedule (revision 4)"
    conflict = plan_table(request(name="other", flow_spec_name="Other"), "t", record)
    assert conflict.detail.startswith("conflict: flow_spec_name, name (fixed fields differ: ")
    assert "new request_id" in conflict.detail


def test_a_request_naming_a_higher_revision_keeps_it() -> None:
    plan = plan_table(request(schedule=HOURLY, revision=9), "t", recorded(request(), revision=3))
    assert (plan.kind, plan.revision) == ("update", 9)


def test_prune_deletes_live_dataflows_of_the_manifests_base_connections_it_no_longer_names() -> (
    None
):
    manifest = [request("kept"), request("other-kept", base="base-2")]
    records = [
        recorded(request("kept")),
        recorded(request("gone")),
        recorded(request("gone-failed"), "failed"),
        recorded(request("already-deleted"), "deleted"),
        recorded(request("being-deleted"), "running", operation="delete"),
        recorded(request("deletion-failed"), "failed", operation="delete"),
        recorded(request("elsewhere", base="base-3")),
    ]
    plans = list(prune_plans(manifest, records))
    assert [plan.request_id for plan in plans] == ["gone", "gone-failed", "deletion-failed"]
    assert plans[0].line() == "plan gone public.gone: delete (its table left the manifest)"


def test_the_counts_name_each_kind_planned_and_delete_whenever_pruning() -> None:
    plans = [plan_table(request(f"r-{n}"), "t", None) for n in range(2)]
    assert counts_line(plans, prune=False) == "plan: 2 create"
    assert counts_line(plans, prune=True) == "plan: 2 create, 0 delete"
    assert counts_line([], prune=False) == "plan: nothing"


def test_a_recorded_failure_reads_as_the_failed_event_would() -> None:
    error = {"kind": "rejected", "message": "no such base connection"}
    steps = {"source_connection": StepRecord("failed")}
    record = recorded(request(), "failed", last_error=error, steps=steps)
    assert last_failure(record) == "rejected at source_connection: no such base connection"


def test_the_next_revision_is_the_latest_content_one_higher_with_the_state_asked_for() -> None:
    record = recorded(request(schedule=HOURLY), "updated", revision=3)
    ready = next_revision(record, source="urn:test", enabled=False)
    event = decode(ready.body)
    assert isinstance(event.data, DataflowRequested)
    assert (event.data.revision, event.data.enabled) == (4, False)
    assert event.data.schedule.frequency == "hour"
    assert (ready.request_id, ready.event_type, ready.event_id) == ("crm-1", event.type, event.id)
    assert next_revision(record, source="urn:test").request == event.data.model_copy(
        update={"enabled": True}
    )


def test_a_revision_is_a_new_event_with_the_same_content() -> None:
    ready = as_revision(request(), 5, source="urn:test", where="item 1")
    assert ready.request is not None
    assert (ready.location, ready.request.revision) == ("item 1", 5)
    assert canonical_content(ready.request) == canonical_content(request())


def test_a_deletion_is_a_command_of_its_own_type_and_refuses_a_malformed_id() -> None:
    ready = deletion("crm-1", "table dropped", source="urn:test")
    event = decode(ready.body)
    assert (ready.event_type, event.type, ready.request) == (
        "DataflowDeletionRequested",
        "DataflowDeletionRequested",
        None,
    )
    with pytest.raises(InvalidMessageError, match="request_id"):
        deletion("not an id", None, source="urn:test")

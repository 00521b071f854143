"""Claims of a lifecycle: revisions and deletions decided on the locked record (contract 2.4)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from worker.core.changes import Finish, StepDeleted, StepKept, apply_all, replace
from worker.core.claims import Lease, decide_deletion, decide_request, new_record
from worker.core.record import RequestRecord, StepRecord
from worker.core.revisions import changed_fields, fixed_changes, plan_kind, revised

T0 = 1_800_000_000.0
CONTENT = {
    "request_id": "r-1",
    "name": "crm",
    "source": {"table": "public.orders"},
    "mappings": [{"source": "id", "destination": "_id"}],
    "schedule": {"frequency": "hour", "interval": 1},
    "delta_column": {"name": "updated_at"},
}


def content(**changes: Any) -> str:
    """Canonical content (sorted keys), as the ledger stores it."""
    return json.dumps({**CONTENT, **changes}, sort_keys=True, separators=(",", ":"))


def digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()


def done(resource_id: str, outcome: str = "created") -> StepRecord:
    return StepRecord(state="done", resource_id=resource_id, outcome=outcome)  # type: ignore[arg-type]


CREATED_STEPS = {
    "flow_spec": done("spec", "reused"),
    "source_connection": done("src"),
    "target_schema": done("schema"),
    "target_dataset": done("dataset"),
    "target_connection": done("tgt"),
    "mapping_set": done("ms-1"),
    "dataflow": done("flow-1"),
}


def created(**changes: Any) -> RequestRecord:
    """A request created at revision 1, its lease released."""
    record = new_record("r-1", digest(content()), content(), "evt-1", Lease("w1", 15, T0))
    record = replace(record, steps=CREATED_STEPS)
    record = apply_all(record, [Finish("created", b"created")], T0 + 1)
    return replace(record, **changes)


def claim(record: RequestRecord, revision: int, json_: str, now: float = T0 + 10) -> Any:
    return decide_request(record, digest(json_), json_, revision, "evt-2", Lease("w2", 15, now))


def test_a_created_request_applies_its_revision_and_content() -> None:
    record = created()
    assert (record.applied_revision, record.applied_json) == (1, content())


@pytest.mark.parametrize(
    ("revision", "changes", "outcome", "fields"),
    [
        (1, {"schedule": {"frequency": "day", "interval": 1}}, "conflict", ("schedule",)),
        (0, {}, "conflict", ("revision",)),
        (2, {"name": "other"}, "conflict", ("name",)),
        (2, {"source": {"table": "public.x"}, "mapping_mode": "auto"}, "conflict", None),
        (2, {"schedule": {"frequency": "day", "interval": 1}}, "acquired", ()),
        (2, {}, "acquired", ()),
    ],
)
def test_a_request_claim_follows_the_revision_rules(
    revision: int, changes: dict[str, Any], outcome: str, fields: tuple[str, ...] | None
) -> None:
    record = created()
    decided = claim(record, revision, content(**changes))
    assert decided.outcome == outcome
    if fields is not None:
        assert decided.fields == fields
    if outcome == "conflict":
        assert decided.record is record
        assert decided.fixed == (revision > 1)


def test_fixed_fields_changed_are_named_sorted() -> None:
    changed = content(source={"table": "public.x"}, mapping_mode="auto")
    assert fixed_changes(content(), changed) == ("mapping_mode", "source")


def test_a_higher_revision_reopens_the_flow_its_state_and_a_changed_mapping_set() -> None:
    record = created()
    decided = claim(record, 2, content(mappings=[{"source": "id", "destination": "_id2"}]))
    after = decided.record
    assert (after.operation, after.revision, after.status) == ("update", 2, "running")
    assert (after.first_event_id, after.started_at, after.terminal_event) == (
        "evt-2",
        T0 + 10,
        None,
    )
    assert after.step("dataflow") == StepRecord(resource_id="flow-1")
    assert after.step("flow_state") == StepRecord()
    assert after.step("mapping_set") == StepRecord(resource_id="ms-1")  # pending: a new set
    assert after.step("source_connection") == CREATED_STEPS["source_connection"]
    assert (after.applied_revision, after.applied_json) == (1, content())


def test_a_higher_revision_waits_while_another_command_runs() -> None:
    leased = replace(created(), lease_owner="w1", lease_expires_at=T0 + 100)
    assert claim(leased, 2, content()).outcome == "busy"
    deleting = replace(created(), operation="delete", status="waiting_retry")
    assert claim(deleting, 2, content()).outcome == "busy"


def test_a_higher_revision_of_an_unfinished_creation_drives_the_creation_with_it() -> None:
    failed = replace(
        created(status="failed", applied_revision=None, applied_json=""),
        steps={**CREATED_STEPS, "dataflow": StepRecord(state="failed", name="crm (flow)")},
    )
    after = claim(failed, 2, content(schedule={"frequency": "day", "interval": 1})).record
    assert after.operation == "create"
    assert after.step("dataflow") == StepRecord(name="crm (flow)")


def test_same_content_after_a_deletion_is_superseded_and_a_higher_revision_creates_anew() -> None:
    steps = {
        **CREATED_STEPS,
        "dataflow": StepRecord(state="deleted", resource_id="flow-1"),
        "target_schema": StepRecord(state="kept", resource_id="schema"),
        "target_dataset": StepRecord(state="deleted", resource_id="dataset"),
    }
    deleted = replace(created(status="deleted", operation="delete"), steps=steps)
    assert claim(deleted, 1, content()).outcome == "superseded"
    after = claim(deleted, 2, content()).record
    assert after.operation == "create"
    assert after.step("dataflow") == StepRecord()
    assert after.step("target_dataset") == StepRecord()
    assert after.step("target_connection") == StepRecord()  # built on the deleted dataset
    assert after.step("target_schema").state == "done"  # kept: it exists, adopted again
    assert after.step("target_schema").outcome == "found"


def test_a_deletion_claim_follows_the_record() -> None:
    lease = Lease("w2", 15, T0 + 10)
    assert decide_deletion(None, "evt-d", None, lease) is None
    record = created()
    decided = decide_deletion(record, "evt-d", "retired", lease)
    assert decided is not None
    after = decided.record
    assert (decided.outcome, after.operation, after.deletion_reason) == (
        "acquired",
        "delete",
        "retired",
    )
    assert after.first_event_id == "evt-d"
    assert all(step.attempts == 0 for step in after.steps.values())
    finished = apply_all(after, [StepDeleted("dataflow", 1), Finish("deleted", b"d")], T0 + 11)
    again = decide_deletion(finished, "evt-d2", None, lease)
    assert again is not None
    assert again.outcome == "finished"
    busy = decide_deletion(
        replace(record, lease_owner="w1", lease_expires_at=T0 + 99), "e", None, lease
    )
    assert busy is not None
    assert busy.outcome == "busy"


def test_a_failed_deletion_deletes_again_what_it_could_not() -> None:
    failing = replace(
        created(status="failed", operation="delete"),
        steps={**CREATED_STEPS, "target_dataset": replace(done("dataset"), state="failed")},
    )
    decided = decide_deletion(failing, "evt-d", None, Lease("w2", 15, T0 + 10))
    assert decided is not None
    assert decided.record.step("target_dataset").state == "done"


def test_kept_steps_keep_their_state_through_a_new_deletion() -> None:
    record = apply_all(created(), [StepKept("target_schema", 2)], T0 + 2)
    decided = decide_deletion(record, "evt-d", None, Lease("w2", 15, T0 + 10))
    assert decided is not None
    assert decided.record.step("target_schema").state == "kept"


@pytest.mark.parametrize(
    ("stored", "given", "expected"),
    [
        (None, content(), ("create", ())),
        (content(), content(), ("unchanged", ())),
        (content(), content(enabled=False), ("update", ("enabled",))),
        (content(), content(name="other", schedule={}), ("conflict", ("name",))),
    ],
)
def test_the_plan_of_a_table_follows_its_recorded_content(
    stored: str | None, given: str, expected: tuple[str, tuple[str, ...]]
) -> None:
    record = None if stored is None else created(request_json=stored)
    assert plan_kind(record, given) == expected


def test_enabled_true_is_the_default_whether_written_or_not() -> None:
    assert changed_fields(content(), content(enabled=True)) == ()
    assert revised(created(), content()) != {}

"""Claiming a request's record for a delivery: new, duplicate, conflict, busy, revision, deletion.

The ledger runs these decisions inside the transaction that locked the row, so two deliveries
never both take a request; the engine turns every outcome that does not run the request into
effects (:mod:`worker.core.admission`). Contract 2.3 and 2.4 say what each case must do:

* same revision, same content: a duplicate (``finished`` once it ended), or the request goes on;
* same revision, other content, or a lower revision: ``conflict``, the record untouched;
* a higher revision: it waits while the previous command runs (``busy``), is refused when it
  changes a fixed field (``conflict``, ``fixed``), else replaces the content and reopens the steps
  it changes (:func:`worker.core.revisions.revised`);
* a deletion: ``unknown`` for a request never seen, ``finished`` once deleted, ``busy`` while
  another command runs, else the operation becomes ``delete``.

Pure: the time is an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from worker.core.changes import StartSteps, replace
from worker.core.record import Claim, RequestRecord, StepRecord, never_sent
from worker.core.revisions import changed_fields, fixed_changes, flow_exists, revised


@dataclass(frozen=True, slots=True)
class Lease:
    """Who claims, for how long, at what time."""

    owner: str
    seconds: float
    now: float


def new_record(
    request_id: str,
    content_hash: str,
    request_json: str,
    event_id: str,
    lease: Lease,
    revision: int = 1,
) -> RequestRecord:
    """The record of a request seen for the first time, leased to its claimer (fence 1)."""
    return RequestRecord(
        request_id=request_id,
        content_hash=content_hash,
        request_json=request_json,
        first_event_id=event_id,
        status="running",
        created_at=lease.now,
        updated_at=lease.now,
        deliveries=1,
        unsettled_deliveries=1,
        lease_owner=lease.owner,
        lease_expires_at=lease.now + lease.seconds,
        fence=1,
        revision=revision,
    )


def lease_held(record: RequestRecord, now: float) -> bool:
    """True while some worker holds an unexpired lease on the record."""
    return (
        record.lease_owner is not None
        and record.lease_expires_at is not None
        and record.lease_expires_at > now
    )


def decide_request(
    record: RequestRecord,
    content_hash: str,
    request_json: str,
    revision: int,
    event_id: str,
    lease: Lease,
) -> Claim:
    """Claim an existing record for a ``DataflowRequested`` (``record`` loaded in full)."""
    if revision < record.revision:
        return Claim("conflict", record, fields=("revision",))
    if revision == record.revision:
        if record.content_hash != content_hash:
            return Claim(
                "conflict", record, fields=changed_fields(record.request_json, request_json)
            )
        if record.operation == "delete" or record.status == "deleted":
            return Claim("superseded", record)
        if record.finished:
            return Claim("finished", record)
        if lease_held(record, lease.now):
            return Claim("busy", record)
        return _acquired(_leased(record, lease))
    if lease_held(record, lease.now) or _unfinished(record, ("delete", "rollback")):
        return Claim("busy", record)  # a revision waits for the command before it to end
    if record.status != "deleted":
        fixed = fixed_changes(record.request_json, request_json)
        if fixed:
            return Claim("conflict", record, fields=fixed, fixed=True)
    applied = record.applied_revision is not None and record.status != "deleted"
    steps = revised(record, request_json)
    accepted = replace(
        _leased(record, lease, command=True),
        content_hash=content_hash,
        request_json=request_json,
        first_event_id=event_id,
        revision=revision,
        steps=steps,
        operation="update" if applied and flow_exists(steps) else "create",
        applied_revision=record.applied_revision if applied else None,
        applied_json=record.applied_json if applied else "",
        deletion_reason=None,
    )
    return _acquired(accepted)


def decide_deletion(
    record: RequestRecord | None, event_id: str, reason: str | None, lease: Lease
) -> Claim | None:
    """Claim a record for a ``DataflowDeletionRequested``; None when the request is unknown."""
    if record is None:
        return None
    if record.status == "deleted":
        return Claim("finished", record)
    if lease_held(record, lease.now) or _unfinished(record, ("rollback",)):
        return Claim("busy", record)
    if record.operation == "delete" and not record.finished:
        return _acquired(_leased(record, lease))
    # A deletion counts its own calls in each step; steps that failed while being deleted still
    # hold their resources: they are deleted again.
    steps = {name: _to_delete(step) for name, step in record.steps.items()}
    started = replace(
        _leased(record, lease, command=True),
        first_event_id=event_id,
        operation="delete",
        deletion_reason=reason,
        steps=steps,
    )
    return _acquired(started)


def start_fresh(
    record: RequestRecord, intents: Sequence[tuple[str, str | None]], now: float
) -> tuple[RequestRecord, tuple[str, ...]]:
    """The intents of the steps that never started, written; and which those were.

    A claim writes them with the lease, so the first creates need no write of their own.
    """
    fresh = tuple((step, name) for step, name in intents if never_sent(record.step(step)))
    if not fresh:
        return record, ()
    return StartSteps(fresh).apply(record, now), tuple(step for step, _ in fresh)


def _to_delete(step: StepRecord) -> StepRecord:
    if step.state in ("deleted", "kept"):
        return step
    state = "done" if step.state == "failed" and step.outcome is not None else step.state
    return replace(step, state=state, attempts=0)


def _acquired(record: RequestRecord) -> Claim:
    return Claim("acquired", record, record.fence)


def _unfinished(record: RequestRecord, operations: tuple[str, ...]) -> bool:
    return record.operation in operations and not record.finished


def _leased(record: RequestRecord, lease: Lease, *, command: bool = False) -> RequestRecord:
    """Leased to the claimer, the delivery counted; ``command``: a new command starts now."""
    claimed = replace(
        record,
        status="running",
        lease_owner=lease.owner,
        lease_expires_at=lease.now + lease.seconds,
        fence=record.fence + 1,
        deliveries=record.deliveries + 1,
        unsettled_deliveries=1 if command else record.unsettled_deliveries + 1,
        updated_at=lease.now,
    )
    if not command:
        return claimed
    return replace(
        claimed,
        started_at=lease.now,
        terminal_event=None,
        last_error=None,
        next_retry_at=None,
        finished_at=None,
    )

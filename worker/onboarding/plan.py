"""What onboarding a manifest does to each table, given what the ledger holds: the plan (pure).

Each table's request is compared with the ledger's record of the same ``request_id``
(:func:`worker.core.revisions.plan_kind`): ``create`` (unknown, or deleted: made anew),
``update`` (changeable fields differ: the next revision is published), ``unchanged`` (the same
content as the latest revision: nothing is published, so onboarding again is a no-op) or
``conflict`` (fixed fields differ: it needs a new ``request_id``; nothing is published). With
``--prune``, ``delete`` for each dataflow the ledger holds for one of the manifest's base
connections whose ``request_id`` the manifest no longer names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from messages import DataflowRequested, canonical_content
from worker.core.record import APPLIED, RequestRecord
from worker.core.revisions import PlanKind, content_of, plan_kind

KINDS: tuple[PlanKind, ...] = ("create", "update", "unchanged", "conflict", "delete")
CONFLICT_ADVICE = (
    "fixed fields differ: delete the dataflow (dataflow-worker delete) and onboard the table "
    "again, or give it a new request_id"
)


@dataclass(frozen=True)
class TablePlan:
    """One line of the plan: a table of the manifest, or a dataflow that left it.

    ``revision``: the revision to publish (None: nothing to publish, or a deletion).
    ``record``: what the ledger holds of the request (None: nothing).
    """

    request_id: str
    table: str
    kind: PlanKind
    fields: tuple[str, ...] = ()
    revision: int | None = None
    record: RequestRecord | None = None

    @property
    def detail(self) -> str:
        """What the plan does, for people: ``update: schedule (revision 2)``."""
        if self.kind == "conflict":
            return f"conflict: {', '.join(self.fields)} ({CONFLICT_ADVICE})"
        if self.kind == "update":
            return f"update: {', '.join(self.fields)} (revision {self.revision})"
        if self.kind == "create" and self.record is not None:
            return f"create (revision {self.revision}, after its deletion)"
        if self.kind == "unchanged" and self.record and self.record.status not in APPLIED:
            return f"unchanged ({self.record.status})"
        if self.kind == "delete":
            return "delete (its table left the manifest)"
        return self.kind

    def line(self) -> str:
        """``plan <request_id> <table>: <detail>``."""
        return f"plan {self.request_id} {self.table}: {self.detail}"


def plan_table(request: DataflowRequested, table: str, record: RequestRecord | None) -> TablePlan:
    """The plan of one table's request, given the ledger's record of its ``request_id``.

    A new request is published at its own revision; the next revision of a recorded one is
    ``record.revision + 1`` (or the request's own revision, when it names a higher one).
    """
    kind, fields = plan_kind(record, canonical_content(request).decode())
    revision: int | None = None
    if kind == "create":
        revision = request.revision if record is None else record.revision + 1
    if kind == "update" and record is not None:
        revision = record.revision + 1
    if revision is not None:
        revision = max(revision, request.revision)
    return TablePlan(request.request_id, table, kind, fields, revision, record)


def prune_plans(
    requests: Sequence[DataflowRequested], records: Iterable[RequestRecord]
) -> Iterator[TablePlan]:
    """``delete`` for each recorded dataflow of the manifest's base connections that it no
    longer names; deleted ones, and deletions under way, are left out."""
    bases = {request.source.base_connection_id for request in requests}
    named = {request.request_id for request in requests}
    for record in records:
        if record.request_id in named or record.status == "deleted" or _deleting(record):
            continue
        source = content_of(record.request_json).get("source") or {}
        if source.get("base_connection_id") in bases:
            table = str(source.get("table") or "?")
            yield TablePlan(record.request_id, table, "delete", record=record)


def counts_line(plans: Sequence[TablePlan], *, prune: bool) -> str:
    """``plan: 1 create, 2 update, 0 delete``: each kind planned (``delete`` always with
    ``--prune``)."""
    counts = {kind: sum(1 for plan in plans if plan.kind == kind) for kind in KINDS}
    shown = [
        f"{count} {kind}" for kind, count in counts.items() if count or (prune and kind == "delete")
    ]
    return f"plan: {', '.join(shown) or 'nothing'}"


def recorded_flow(record: RequestRecord) -> str | None:
    """The flow id the ledger holds for a request, if any."""
    return record.step("dataflow").resource_id


def last_failure(record: RequestRecord) -> str:
    """A failed request's last error, as ``--wait`` shows a ``DataflowFailed``."""
    error: Mapping[str, object] = record.last_error or {}
    failed = (name for name, step in record.steps.items() if step.state == "failed")
    step = error.get("step") or next(failed, "-")
    return f"{error.get('kind', '?')} at {step}: {error.get('message', '')}"


def _deleting(record: RequestRecord) -> bool:
    return record.operation == "delete" and record.status != "failed"

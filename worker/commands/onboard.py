"""``dataflow-worker onboard MANIFEST``: validate every table, plan it, publish, follow.

The plan compares each table's request with what the ledger (``DATAFLOW_STATE_URL``) holds of
its ``request_id`` (:mod:`worker.onboarding.plan`): new tables are published, changed ones as
the next revision, unchanged ones not at all (so onboarding again is a no-op), and a change of
a fixed field stops everything (it needs a new ``request_id``). ``--prune`` adds the deletion
of what the manifest's base connections had that it no longer names. The ledger is read only
once every table is valid; a SQLite ledger file that does not exist is a ledger with nothing
recorded (every table ``create``), and is not created.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from messages import DataflowRequested
from worker.commands.following import event_tap, follow, wait_options
from worker.commands.ledgers import missing_sqlite, open_if_recorded
from worker.commands.output import confirm
from worker.config import load_settings
from worker.core.record import STATUSES
from worker.core.text import plural
from worker.errors import ConfigurationError
from worker.onboarding.lifecycle import as_revision, deletion
from worker.onboarding.manifest import ManifestItem, read_manifest
from worker.onboarding.plan import (
    TablePlan,
    counts_line,
    last_failure,
    plan_table,
    prune_plans,
    recorded_flow,
)
from worker.onboarding.requests import Invalid, Prepared, prepare, publish_requests, worker_source
from worker.onboarding.tracking import TableRow, Tracker, planned_steps, render_report

_LIVE = tuple(status for status in STATUSES if status != "deleted")
_SHOWN = ("created", "updated", "deleted", "failed", "timed out")
"""The rows printed at the end: those that a command ended (or that waited in vain)."""


def table_of(item: ManifestItem) -> str:
    """The source table an item names, or ``?`` when it names none."""
    data = item.payload.get("data") if item.is_event else item.payload
    source = data.get("source") if isinstance(data, dict) else None
    table = source.get("table") if isinstance(source, dict) else None
    return str(table) if table else "?"


def report_format(path: str) -> str:
    """``csv`` or ``json``, from the report file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ConfigurationError(f"--report {path}: the name must end in .csv or .json")
    return suffix[1:]


@click.command()
@click.argument("manifest", type=str)
@click.option("--dry-run", is_flag=True, help="Validate and print the plan; publish nothing.")
@wait_options("every table is done")
@click.option(
    "--report", type=click.Path(dir_okay=False), help="Write a row per table (.csv/.json)."
)
@click.option(
    "--prune",
    is_flag=True,
    help="Also delete the dataflows of the manifest's base connections that it no longer names.",
)
@click.option("--yes", is_flag=True, help="With --prune on a terminal: delete without asking.")
def onboard(
    manifest: str,
    dry_run: bool,
    wait: bool,
    timeout: float,
    progress_every: float,
    report: str | None,
    prune: bool,
    yes: bool,
) -> None:
    """Onboard MANIFEST (from `discover`, or any `publish` file): one dataflow per table.

    Every table is validated first; when any is invalid, each is listed and nothing is
    published. Then each table is planned against the worker's ledger (DATAFLOW_STATE_URL):

    \b
      create              a new request_id (or one whose dataflow was deleted)
      update: FIELDS      changed schedule, delta_column, mappings, enabled, ...:
                          the next revision is published and applied in place
      unchanged           the same content: nothing is published (running again is a no-op)
      conflict: FIELDS    a fixed field changed (source, target, name, ...): nothing at all
                          is published; delete the dataflow first or use a new request_id
      delete              with --prune: a dataflow of one of the manifest's base
                          connections whose request_id the manifest no longer names

    --dry-run prints the plan and its counts and publishes nothing (it reads the ledger, and
    calls neither the broker nor the Platform). A ledger file that does not exist yet means
    nothing is recorded: every table is `create`. Otherwise the topology is declared and each
    publish confirmed; with --prune the deletions are listed first (and, on a terminal,
    confirmed unless --yes). Careful: a manifest made with `discover --include` names only
    some tables of its base connection; --prune would delete the others.

    With --wait, a temporary queue on the events exchange (bound before publishing) follows
    each request to its end: on a terminal with a progress bar, elsewhere (CI, a file) with a
    progress line on standard error at the start, every --progress-every seconds and at the
    end. Exit 1 when any table is invalid, in conflict, failed or timed out.

    \b
    Examples:
      dataflow-worker onboard shop.yaml --dry-run --prune
      dataflow-worker onboard shop.yaml --wait --report onboarding.csv
      dataflow-worker onboard shop.yaml --prune --wait
    """
    fmt = report_format(report) if report else None
    items = read_manifest(manifest)
    prepared, invalid = prepare(items, source=worker_source())
    tables = {item.location: table_of(item) for item in items}
    if invalid:
        _refuse_invalid(prepared, invalid, tables, report, fmt)
    settings = load_settings()
    plans = _plans(settings.state_url, prepared, tables, prune=prune)
    if dry_run:
        for plan in plans:
            click.echo(plan.line())
        click.echo(counts_line(plans, prune=prune))
        rows = [_planned_row(plan) for plan in plans]
        _finish(rows, report, fmt, f"{len(prepared)} valid, 0 invalid; nothing published")
        return
    conflicts = [plan for plan in plans if plan.kind == "conflict"]
    if conflicts:
        for plan in conflicts:
            click.echo(plan.line(), err=True)
        rows = [_planned_row(plan) for plan in plans]
        _finish(rows, report, fmt, f"nothing published: {plural(len(conflicts), 'conflict')}")
    _confirm_deletions([plan for plan in plans if plan.kind == "delete"], yes=yes)
    outgoing, rows = _outgoing(prepared, plans, reason=f"left the manifest {manifest}")
    target, prefix = settings.broker(), settings.topology_prefix
    with event_tap(target, prefix, wait=wait) as tap:
        publish_requests(target, prefix, outgoing, _echo_published)
        if tap is not None:
            tracker = Tracker(rows, settled=_settled(plans), revisions=_revisions(plans))
            steps = _steps(prepared, plans)
            rows = follow(
                tap, tracker, label="onboard", timeout=timeout, every=progress_every, steps=steps
            )
    _finish(rows, report, fmt, _summary(rows))


def _plans(
    state_url: str, prepared: Sequence[Prepared], tables: dict[str, str], *, prune: bool
) -> list[TablePlan]:
    """Each table's plan (in the manifest's order), then the deletions of ``--prune``."""
    requests = [_request(ready) for ready in prepared]
    where = [tables[ready.location] for ready in prepared]
    ledger = open_if_recorded(state_url, "onboard")
    if ledger is None:
        path = missing_sqlite(state_url)
        click.echo(f"no ledger at {path} yet: every table is new (DATAFLOW_STATE_URL)", err=True)
        return [plan_table(r, table, None) for r, table in zip(requests, where, strict=True)]
    with ledger:
        plans = [
            plan_table(request, table, ledger.get(request.request_id))
            for request, table in zip(requests, where, strict=True)
        ]
        if prune:
            plans.extend(prune_plans(requests, ledger.records(_LIVE)))
    return plans


def _outgoing(
    prepared: Sequence[Prepared], plans: Sequence[TablePlan], *, reason: str
) -> tuple[list[Prepared], list[TableRow]]:
    """What to publish (in the plan's order), and a row per line of the plan."""
    source = worker_source()
    outgoing: list[Prepared] = []
    rows: list[TableRow] = []
    for plan, ready in zip(plans, prepared, strict=False):  # the tables come first
        request = _request(ready)
        if plan.kind == "unchanged" or plan.revision is None:
            click.echo(f"unchanged {plan.request_id} ({ready.location})")
            rows.append(_planned_row(plan))
            continue
        if plan.revision != request.revision:
            ready = as_revision(request, plan.revision, source=source, where=ready.location)
        outgoing.append(ready)
        rows.append(TableRow(plan.table, plan.request_id, "published"))
    for plan in plans[len(prepared) :]:  # then the deletions of --prune
        outgoing.append(deletion(plan.request_id, reason, source=source))
        rows.append(TableRow(plan.table, plan.request_id, "published"))
    return outgoing, rows


def _request(ready: Prepared) -> DataflowRequested:
    if ready.request is None:  # prepare() keeps every request's content
        raise ValueError(f"{ready.location}: no request content")
    return ready.request


def _planned_row(plan: TablePlan) -> TableRow:
    """A row before anything is published: ``planned``, ``conflict``, or what the ledger holds
    of an unchanged table (its flow, or its failure)."""
    record = plan.record
    if plan.kind == "conflict":
        return TableRow(plan.table, plan.request_id, "conflict", error=plan.detail)
    if plan.kind != "unchanged" or record is None:
        return TableRow(plan.table, plan.request_id, "planned")
    if record.status == "failed":
        return TableRow(plan.table, plan.request_id, "failed", error=last_failure(record))
    return TableRow(plan.table, plan.request_id, "unchanged", flow_id=recorded_flow(record))


def _settled(plans: Sequence[TablePlan]) -> list[str]:
    """Unchanged tables whose last command ended: there is nothing of theirs to follow."""
    return [
        plan.request_id
        for plan in plans
        if plan.kind == "unchanged" and plan.record is not None and plan.record.finished
    ]


def _revisions(plans: Sequence[TablePlan]) -> dict[str, int]:
    return {plan.request_id: plan.revision for plan in plans if plan.revision is not None}


def _steps(prepared: Sequence[Prepared], plans: Sequence[TablePlan]) -> int | None:
    """The steps the followed requests take, when every one is a new creation."""
    if any(plan.kind != "create" or plan.record is not None for plan in plans):
        return None
    return sum(planned_steps(_request(ready).mapping_mode == "auto") for ready in prepared)


def _confirm_deletions(deletions: Sequence[TablePlan], *, yes: bool) -> None:
    """List what ``--prune`` deletes; on a terminal, ask first (unless ``--yes``)."""
    for plan in deletions:
        click.echo(plan.line())
    if deletions and sys.stdin.isatty():
        confirm(f"delete {plural(len(deletions), 'dataflow')}?", yes=yes)


def _refuse_invalid(
    prepared: Sequence[Prepared],
    invalid: Sequence[Invalid],
    tables: dict[str, str],
    report: str | None,
    fmt: str | None,
) -> None:
    """List every invalid table, write the report, exit 1: nothing is planned or published."""
    rows = [TableRow(tables[p.location], p.request_id, "planned") for p in prepared]
    for problem in invalid:
        click.echo(problem.line(), err=True)
        error = "; ".join(problem.violations)
        table, request_id = tables[problem.location], problem.request_id or "?"
        rows.append(TableRow(table, request_id, "invalid", error=error))
    summary = f"{len(prepared)} valid, {len(invalid)} invalid; nothing published"
    _finish(rows, report, fmt, summary)


def _line(row: TableRow) -> str:
    detail = row.error if row.status in ("failed", "timed out") else row.flow_id
    return f"{row.status} {row.table} {row.request_id}: {detail or '-'}"


def _echo_published(request: Prepared) -> None:
    if request.event_type == "DataflowDeletionRequested":
        click.echo(f"published the deletion of {request.request_id}")
    elif request.request is not None and request.request.revision > 1:
        click.echo(
            f"published {request.request_id} revision {request.request.revision} "
            f"({request.location})"
        )
    else:
        click.echo(f"published {request.request_id} ({request.location})")


def _summary(rows: Sequence[TableRow]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return ", ".join(f"{count} {status}" for status, count in counts.items())


def _finish(rows: Sequence[TableRow], report: str | None, fmt: str | None, summary: str) -> None:
    """Write the report, print every row and the summary; exit 1 unless all went well."""
    if report is not None and fmt is not None:
        Path(report).write_text(render_report(rows, fmt), encoding="utf-8")
    for row in rows:
        if row.status in _SHOWN:
            click.echo(_line(row))
    click.echo(summary)
    if any(row.status in ("invalid", "conflict", "failed", "timed out") for row in rows):
        raise SystemExit(1)

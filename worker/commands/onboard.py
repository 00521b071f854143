"""``dataflow-worker onboard MANIFEST``: validate every table, publish one request each, follow."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import click

from worker.broker.topology import Topology
from worker.commands.progress import DEFAULT_EVERY_SECONDS, outcome_of, progress_display
from worker.config import load_settings
from worker.errors import ConfigurationError
from worker.onboarding.manifest import ManifestItem, read_manifest
from worker.onboarding.requests import Prepared, prepare, publish_requests, worker_source
from worker.onboarding.tracking import EventTap, TableRow, Tracker, planned_steps, render_report


def table_of(item: ManifestItem) -> str:
    """The source table an item names, or ``?`` when it names none."""
    data = item.payload.get("data") if item.is_event else item.payload
    source = data.get("source") if isinstance(data, dict) else None
    table = source.get("table") if isinstance(source, dict) else None
    return str(table) if table else "?"


def _auto(item: ManifestItem) -> bool:
    data = item.payload.get("data") if item.is_event else item.payload
    return isinstance(data, dict) and data.get("mapping_mode") == "auto"


def report_format(path: str) -> str:
    """``csv`` or ``json``, from the report file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ConfigurationError(f"--report {path}: the name must end in .csv or .json")
    return suffix[1:]


@click.command()
@click.argument("manifest", type=str)
@click.option("--dry-run", is_flag=True, help="Validate and show the plan; publish nothing.")
@click.option("--wait", is_flag=True, help="Follow the events until every table is done.")
@click.option(
    "--timeout",
    default=600.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="With --wait: give up after this many seconds.",
)
@click.option(
    "--progress-every",
    default=DEFAULT_EVERY_SECONDS,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="With --wait, off a terminal: print a progress line this often (seconds).",
)
@click.option(
    "--report", type=click.Path(dir_okay=False), help="Write a row per table (.csv/.json)."
)
def onboard(
    manifest: str,
    dry_run: bool,
    wait: bool,
    timeout: float,
    progress_every: float,
    report: str | None,
) -> None:
    """Onboard MANIFEST (from `discover`, or any `publish` file): one request per table.

    Every table is validated first; when any is invalid, each is listed and nothing is
    published. The topology is declared and every publish confirmed. With --wait, a temporary
    queue on the events exchange (bound before publishing) follows each request to
    DataflowCreated or DataflowFailed: on a terminal with a progress bar, elsewhere (CI, a
    file) with a progress line on standard error at the start, every --progress-every seconds
    and at the end. Exit 1 when any table is invalid, failed or timed out.

    \b
    Examples:
      dataflow-worker onboard shop.yaml --dry-run
      dataflow-worker onboard shop.yaml --wait --report onboarding.csv
    """
    fmt = report_format(report) if report else None
    items = read_manifest(manifest)
    prepared, invalid = prepare(items, source=worker_source())
    tables = {item.location: item for item in items}
    rows = [TableRow(table_of(tables[p.location]), p.request_id, "planned") for p in prepared]
    for problem in invalid:
        click.echo(problem.line(), err=True)
        error = "; ".join(problem.violations)
        table = table_of(tables[problem.location])
        rows.append(TableRow(table, problem.request_id or "?", "invalid", error=error))
    if invalid or dry_run:
        for row, request in zip(rows, prepared, strict=False):
            steps = planned_steps(_auto(tables[request.location]))
            click.echo(f"plan {row.request_id} {row.table}: {steps} steps")
        summary = f"{len(prepared)} valid, {len(invalid)} invalid; nothing published"
        _finish(rows, report, fmt, summary)
        return
    settings = load_settings()
    topology = Topology(settings.topology_prefix)
    target = settings.broker()
    tap = EventTap(target, topology) if wait else None
    try:
        publish_requests(target, topology.prefix, prepared, _echo_published)
        rows = [TableRow(row.table, row.request_id, "published") for row in rows]
        if tap is not None:
            rows = _follow(tap, rows, prepared, tables, timeout, progress_every)
    finally:
        if tap is not None:
            tap.close()
    _finish(rows, report, fmt, _summary(rows))


def _follow(
    tap: EventTap,
    rows: list[TableRow],
    prepared: Sequence[Prepared],
    tables: dict[str, ManifestItem],
    timeout: float,
    every: float,
) -> list[TableRow]:
    """Follow the events, showing progress, until every request ended or the time is up."""
    tracker = Tracker(rows)
    display = progress_display("onboard", every)
    display.start(len(rows), sum(planned_steps(_auto(tables[p.location])) for p in prepared))
    try:
        for event_type, data in tap.events(time.monotonic() + timeout, idle=display.tick):
            changed = tracker.observe(event_type, data)
            if changed is None:
                continue
            display.record(outcome_of(changed.status))
            if tracker.done:
                break
    finally:
        display.close()
    return tracker.rows(timed_out=not tracker.done)


def _line(row: TableRow) -> str:
    detail = row.flow_id if row.status == "created" else row.error
    return f"{row.status} {row.table} {row.request_id}: {detail}"


def _echo_published(request: Prepared) -> None:
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
        if row.status in ("created", "failed", "timed out"):
            click.echo(_line(row))
    click.echo(summary)
    if any(row.status in ("invalid", "failed", "timed out") for row in rows):
        raise SystemExit(1)

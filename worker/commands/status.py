"""``dataflow-worker status [REQUEST_ID]``: one request's ledger, a list, or a summary of all.

The views are pure: :func:`request_view`, :func:`list_view` and :func:`summary_view` turn ledger
records into plain JSON-ready data (``--json`` prints exactly that), and the ``render_*``
functions turn the same data into rich tables. Only the command opens the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Group
from rich.table import Table
from rich.text import Text

from worker.commands.ledgers import missing_sqlite
from worker.commands.output import add_id_column, make_console
from worker.config import load_settings
from worker.core.steps import Step
from worker.core.text import plural
from worker.errors import DataflowError
from worker.ledger import Ledger, RequestRecord, RequestStatus, open_ledger

RECENT_FAILURES = 10
LIST_LIMIT = 100
STATUSES: tuple[RequestStatus, ...] = ("pending", "running", "waiting_retry", "created", "failed")
_STATUS_STYLES = {
    "created": "green",
    "failed": "red",
    "running": "cyan",
    "waiting_retry": "yellow",
    "pending": "white",
    "done": "green",
    "started": "cyan",
}


def iso(seconds: float | None) -> str | None:
    """Epoch seconds as an RFC 3339 UTC timestamp (``None`` stays ``None``)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def failed_step(record: RequestRecord) -> str | None:
    """The step a request failed at (its error names it, else the first failed step)."""
    if record.last_error and isinstance(record.last_error.get("step"), str):
        return str(record.last_error["step"])
    return next((name for name, step in record.steps.items() if step.state == "failed"), None)


def ordered_steps(record: RequestRecord) -> list[str]:
    """The request's steps in execution order; unknown names (newer versions) at the end."""
    known = [str(step) for step in Step if str(step) in record.steps]
    return known + sorted(name for name in record.steps if name not in known)


def request_view(record: RequestRecord) -> dict[str, Any]:
    """Everything ``status REQUEST_ID`` shows, as JSON-ready data."""
    return {
        "request_id": record.request_id,
        "status": record.status,
        "attempts": record.attempts,
        "deliveries": record.deliveries,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "finished_at": iso(record.finished_at),
        "next_retry_at": iso(record.next_retry_at),
        "failed_step": failed_step(record) if record.status == "failed" else None,
        "last_error": dict(record.last_error) if record.last_error else None,
        "steps": [
            {
                "step": name,
                "state": record.steps[name].state,
                "resource_id": record.steps[name].resource_id,
                "outcome": record.steps[name].outcome,
                "attempts": record.steps[name].attempts,
                "duration_seconds": record.steps[name].duration_seconds,
            }
            for name in ordered_steps(record)
        ],
        "runs": [dict(run) for run in record.runs],
    }


def current_step(record: RequestRecord) -> str | None:
    """The step a request failed at, or the one it is working on (None once created)."""
    if record.status == "failed":
        return failed_step(record)
    if record.status == "created":
        return None
    started = [name for name in ordered_steps(record) if record.steps[name].state != "done"]
    return started[0] if started else None


def list_view(records: Sequence[RequestRecord]) -> list[dict[str, Any]]:
    """The requests of ``status --status``, most recently updated first, as JSON-ready rows."""
    return [
        {
            "request_id": record.request_id,
            "status": record.status,
            "step": current_step(record),
            "flow_id": record.step("dataflow").resource_id if record.status == "created" else None,
            "attempts": record.attempts,
            "updated_at": iso(record.updated_at),
            "next_retry_at": iso(record.next_retry_at),
            "last_error": dict(record.last_error) if record.last_error else None,
        }
        for record in records
    ]


def summary_view(counts: Mapping[str, int], failures: Sequence[RequestRecord]) -> dict[str, Any]:
    """Counts by status and the most recent failures, as JSON-ready data."""
    return {
        "total": sum(counts.values()),
        "counts": dict(sorted(counts.items())),
        "recent_failures": [
            {
                "request_id": record.request_id,
                "step": failed_step(record),
                "kind": (record.last_error or {}).get("kind"),
                "message": (record.last_error or {}).get("message"),
                "updated_at": iso(record.updated_at),
            }
            for record in failures
        ],
    }


def render_request(view: Mapping[str, Any]) -> Group:
    """A request's view as a header, a table of steps and its last error."""
    status = str(view["status"])
    header = Text.assemble(
        (str(view["request_id"]), "bold"),
        "  ",
        (status, _STATUS_STYLES.get(status, "")),
        f"  attempts {view['attempts']}  deliveries {view['deliveries']}",
        f"  updated {view['updated_at']}",
    )
    steps = Table(title="steps", title_justify="left")
    steps.add_column("step")
    steps.add_column("state")
    add_id_column(steps, "resource id")
    steps.add_column("outcome")
    steps.add_column("attempts", justify="right")
    steps.add_column("seconds", justify="right")
    for step in view["steps"]:
        duration = step["duration_seconds"]
        steps.add_row(
            step["step"],
            Text(step["state"], _STATUS_STYLES.get(step["state"], "")),
            step["resource_id"] or "-",
            step["outcome"] or "-",
            str(step["attempts"]),
            f"{duration:.2f}" if duration is not None else "-",
        )
    parts: list[Any] = [header, steps]
    if view["next_retry_at"]:
        parts.append(Text(f"next retry at {view['next_retry_at']}", "yellow"))
    if view["last_error"]:
        parts.append(Text(f"last error: {_error_line(view['last_error'])}", "red"))
    for run in view["runs"]:
        parts.append(Text(f"run {run.get('run_id')}: {run.get('status')}"))
    return Group(*parts)


def render_summary(view: Mapping[str, Any]) -> Group:
    """The summary view as a table of counts and a table of recent failures."""
    counts = Table(title=plural(view["total"], "request"), title_justify="left")
    counts.add_column("status")
    counts.add_column("requests", justify="right")
    for status, count in view["counts"].items():
        counts.add_row(Text(status, _STATUS_STYLES.get(status, "")), str(count))
    parts: list[Any] = [counts]
    if view["recent_failures"]:
        failures = Table(title="most recent failures", title_justify="left")
        add_id_column(failures, "request id")
        for column in ("step", "kind", "message", "updated"):
            failures.add_column(column, overflow="fold")
        for failure in view["recent_failures"]:
            failures.add_row(
                failure["request_id"],
                failure["step"] or "-",
                failure["kind"] or "-",
                failure["message"] or "-",
                failure["updated_at"],
            )
        parts.append(failures)
    return Group(*parts)


_LAST_COLUMN = {"created": "flow id", "waiting_retry": "next retry"}
"""The last column of ``status --status``: what matters most about a request in that status."""


def _last_cell(row: Mapping[str, Any], status: str) -> str:
    if status == "created":
        return str(row["flow_id"] or "-")
    if status == "waiting_retry":
        return str(row["next_retry_at"] or "-")
    return _error_line(row["last_error"]) if row["last_error"] else "-"


def render_list(rows: Sequence[Mapping[str, Any]], status: str) -> Table:
    """The rows of ``status --status`` as one table (the flow id, next retry or last error)."""
    table = Table(title=plural(len(rows), f"{status} request"), title_justify="left")
    add_id_column(table, "request id")
    if status != "created":
        table.add_column("step")
    table.add_column("attempts", justify="right")
    table.add_column("updated")
    add_id_column(table, _LAST_COLUMN.get(status, "last error"))
    for row in rows:
        step = [] if status == "created" else [row["step"] or "-"]
        last = _last_cell(row, status)
        table.add_row(row["request_id"], *step, str(row["attempts"]), row["updated_at"], last)
    return table


def open_existing_ledger(state_url: str) -> Ledger:
    """Open the ledger, refusing to create an empty SQLite file where none exists."""
    path = missing_sqlite(state_url)
    if path is not None:
        raise DataflowError(f"no ledger at {path} (set DATAFLOW_STATE_URL)")
    return open_ledger(state_url)


def _error_line(error: Mapping[str, Any]) -> str:
    details = [str(error.get("kind", "error"))]
    if error.get("status") is not None:
        details.append(f"HTTP {error['status']}")
    if error.get("code"):
        details.append(str(error["code"]))
    return f"{' '.join(details)}: {error.get('message', '')}"


@click.command()
@click.argument("request_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of tables.")
@click.option(
    "--status",
    "only",
    type=click.Choice(STATUSES),
    help="List the requests in this status (most recently updated first).",
)
@click.option(
    "--limit",
    default=LIST_LIMIT,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="With --status: list at most this many.",
)
@click.option(
    "--failures",
    default=RECENT_FAILURES,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="How many recent failures the summary lists.",
)
def status(
    request_id: str | None, as_json: bool, only: RequestStatus | None, limit: int, failures: int
) -> None:
    """Show one request's ledger, the requests in one status, or a summary of all requests.

    With REQUEST_ID: its status, each step (state, resource id, outcome, attempts), deliveries,
    the last error and the next retry. With --status: the requests in that status, their step,
    attempts and last error (or next retry). Without either: how many requests are in each
    status and the most recent failures. Reads DATAFLOW_STATE_URL; exit 1 when REQUEST_ID is
    unknown.

    \b
    Examples:
      dataflow-worker status crm-42
      dataflow-worker status --status failed
      dataflow-worker status --status waiting_retry --json
    """
    if request_id is not None and only is not None:
        raise click.UsageError("give REQUEST_ID or --status, not both")
    settings = load_settings()
    with open_existing_ledger(settings.state_url) as ledger:
        if request_id is not None:
            record = ledger.get(request_id)
            if record is None:
                raise DataflowError(f"no request {request_id!r} in the ledger")
            view: Any = request_view(record)
        elif only is not None:
            view = list_view(ledger.list(only, limit=limit))
        else:
            view = summary_view(ledger.summary(), ledger.list("failed", limit=failures))
    if as_json:
        click.echo(json.dumps(view, indent=2))
    elif request_id is not None:
        make_console().print(render_request(view))
    elif only is not None:
        make_console().print(render_list(view, only))
    else:
        make_console().print(render_summary(view))

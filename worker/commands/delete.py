"""``dataflow-worker delete REQUEST_ID... [--reason TEXT] [--wait]``: delete dataflows.

One ``DataflowDeletionRequested`` per id (each once, in the order given), published with
confirms after the topology is declared. The worker disables the flow, deletes it, then what the
request created, newest first; what the request supplied, mapping sets (the Platform cannot
delete them) and what another dataflow still uses are kept (contract 2.4). The ledger is not
read: the worker answers an id it does not know with ``DataflowFailed`` (``rejected``), which
``--wait`` shows. :func:`outcome_line` is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from messages import InvalidMessageError
from worker.commands.following import event_tap, follow, wait_options
from worker.config import load_settings
from worker.core.steps import Step
from worker.core.text import plural
from worker.onboarding.lifecycle import deletion
from worker.onboarding.requests import Prepared, publish_requests, worker_source
from worker.onboarding.tracking import TableRow, Tracker


def outcome_line(row: TableRow, ending: Mapping[str, Any] | None) -> str:
    """One line per id once ``--wait`` ended: what was deleted, what was kept and why."""
    if row.status != "deleted" or ending is None:
        return f"{row.status} {row.request_id}: {row.error or '-'}"
    deleted = _newest_first(ending.get("deleted") or {})
    kept = _newest_first(ending.get("kept") or {})
    parts = [
        "deleted " + ", ".join(f"{step} {resource}" for step, resource in deleted.items())
        if deleted
        else "nothing left to delete"
    ]
    if kept:
        held = (f"{step} {item.get('id')} ({item.get('reason')})" for step, item in kept.items())
        parts.append("kept " + ", ".join(held))
    return f"deleted {row.request_id}: {'; '.join(parts)}"


def deletions(request_ids: Sequence[str], reason: str | None) -> list[Prepared]:
    """A deletion per id (each once); ids or a reason the contract refuses are a usage error
    naming every one."""
    source, ready, problems = worker_source(), [], dict[str, None]()
    for request_id in dict.fromkeys(request_ids):
        try:
            ready.append(deletion(request_id, reason, source=source))
        except InvalidMessageError as error:
            for found in error.fields:
                where = repr(request_id) if found.path == "request_id" else f"--{found.path}"
                problems[f"{where}: {found.message}"] = None
    if problems:
        raise click.BadParameter("; ".join(problems), param_hint="REQUEST_ID / --reason")
    return ready


@click.command()
@click.argument("request_ids", nargs=-1, required=True, metavar="REQUEST_ID...")
@click.option("--reason", help="Why: free text the worker logs and echoes with the deletion.")
@wait_options("each deletion has ended")
def delete(
    request_ids: tuple[str, ...],
    reason: str | None,
    wait: bool,
    timeout: float,
    progress_every: float,
) -> None:
    """Delete the dataflows of REQUEST_ID...: publish a DataflowDeletionRequested for each.

    The worker disables each flow, deletes it, then deletes what its request created, newest
    first. It keeps what the request supplied (target.schema_id, target.dataset_id), mapping
    sets (the Platform cannot delete them) and whatever another dataflow still uses. Nothing
    is asked: the ids name exactly what goes. Deleting a deleted dataflow again is harmless;
    an id the worker does not know fails (rejected).

    Without --wait, the command returns once the broker confirmed each deletion. With --wait
    it follows the events until each id has its DataflowDeleted or DataflowFailed, and prints
    a line per id: what was deleted, what was kept and why. Exit 1 when any failed or timed
    out; 2 for a malformed id.

    \b
    Examples:
      dataflow-worker delete tbl-5d41402abc4b2a76b9719d911017c592 --reason "table dropped"
      dataflow-worker delete crm-42 crm-43 --wait
    """
    commands = deletions(request_ids, reason)
    settings = load_settings()
    target, prefix = settings.broker(), settings.topology_prefix
    with event_tap(target, prefix, wait=wait) as tap:
        publish_requests(target, prefix, commands, _echo_published)
        if tap is None:
            click.echo(f"{plural(len(commands), 'deletion')} published")
            return
        tracker = Tracker([TableRow("-", c.request_id, "published") for c in commands])
        rows = follow(
            tap, tracker, label="delete", timeout=timeout, every=progress_every, shown=("deleted",)
        )
    for row in rows:
        click.echo(outcome_line(row, tracker.endings.get(row.request_id)))
    if any(row.status != "deleted" for row in rows):
        raise SystemExit(1)


def _newest_first(by_step: Mapping[str, Any]) -> dict[str, Any]:
    """Steps in the order a deletion goes: the flow first, the source connection last."""
    order = [str(step) for step in reversed(Step)]
    return dict(sorted(by_step.items(), key=lambda item: _rank(order, item[0])))


def _rank(order: Sequence[str], step: str) -> int:
    return order.index(step) if step in order else len(order)


def _echo_published(command: Prepared) -> None:
    click.echo(f"published the deletion of {command.request_id} (event {command.event_id})")

"""``dataflow-worker disable REQUEST_ID...`` and ``enable REQUEST_ID...``: switch flows off and on.

Each publishes the next revision of the recorded request (the ledger's latest content,
``revision`` one higher, ``enabled`` false or true); the worker applies it with the flow action
and ends it in ``DataflowUpdated`` (contract 2.4). :func:`decide` is the pure rule per id:

* unknown to the ledger, or deleted: an error line (nothing to switch), exit 1 in the end;
* the latest revision already asks for that state and did not fail: nothing is published
  (``already disabled at revision N``; ``already disabling`` while it is being applied);
* else: the next revision is published, a failed one included (it is applied again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import click

from worker.commands.following import event_tap, follow, wait_options
from worker.commands.ledgers import open_recorded
from worker.config import load_settings
from worker.core.record import RequestRecord
from worker.core.revisions import desired_enabled
from worker.onboarding.lifecycle import next_revision
from worker.onboarding.requests import Prepared, publish_requests, worker_source
from worker.onboarding.tracking import TableRow, Tracker

Action = Literal["publish", "already", "refuse"]


@dataclass(frozen=True)
class Decision:
    """What ``enable``/``disable`` does with one id, and the line that says so."""

    action: Action
    line: str


def decide(request_id: str, record: RequestRecord | None, *, enabled: bool) -> Decision:
    """The rule for one id, given the ledger's record of it."""
    state = "enabled" if enabled else "disabled"
    if record is None:
        return Decision("refuse", f"{request_id}: not in the ledger")
    if record.status == "deleted":
        return Decision(
            "refuse",
            f"{request_id}: deleted at revision {record.revision}; nothing to switch "
            "(publish its request as a higher revision to make it anew)",
        )
    revision = record.revision
    if desired_enabled(record.request_json) == enabled and record.status != "failed":
        if record.finished:
            return Decision("already", f"{request_id}: already {state} at revision {revision}")
        going = f"{'enabling' if enabled else 'disabling'} at revision {revision}"
        return Decision("already", f"{request_id}: already {going} ({record.status})")
    return Decision("publish", f"{request_id}: revision {revision + 1} ({state})")


def switch(
    request_ids: Sequence[str], *, enabled: bool, wait: bool, timeout: float, every: float
) -> None:
    """Read each id's record, publish the revisions needed, follow them with ``wait``."""
    settings = load_settings()
    source = worker_source()
    outgoing: list[Prepared] = []
    refused = False
    with open_recorded(settings.state_url, "disable" if not enabled else "enable") as ledger:
        for request_id in dict.fromkeys(request_ids):
            record = ledger.get(request_id)
            decision = decide(request_id, record, enabled=enabled)
            if decision.action == "refuse":
                click.echo(f"error: {decision.line}", err=True)
                refused = True
            elif decision.action == "already":
                click.echo(decision.line)
            elif record is not None:
                outgoing.append(next_revision(record, source=source, enabled=enabled))
    if not outgoing:
        raise SystemExit(1 if refused else 0)
    target, prefix = settings.broker(), settings.topology_prefix
    with event_tap(target, prefix, wait=wait) as tap:
        publish_requests(target, prefix, outgoing, _echo_published)
        rows = [TableRow("-", ready.request_id, "published") for ready in outgoing]
        if tap is not None:
            revisions = {ready.request_id: _revision(ready) for ready in outgoing}
            tracker = Tracker(rows, revisions=revisions)
            label = "enable" if enabled else "disable"
            rows = follow(
                tap, tracker, label=label, timeout=timeout, every=every, shown=("updated",)
            )
            for row in rows:
                detail = row.error if row.status in ("failed", "timed out") else row.flow_id
                click.echo(f"{row.status} {row.request_id}: {detail or '-'}")
    if refused or any(row.status in ("failed", "timed out") for row in rows):
        raise SystemExit(1)


def _revision(ready: Prepared) -> int:
    return ready.request.revision if ready.request is not None else 1


def _echo_published(ready: Prepared) -> None:
    state = "enabled" if ready.request is None or ready.request.enabled else "disabled"
    click.echo(f"published {ready.request_id} revision {_revision(ready)} ({state})")


_HELP = """{Verb} the flows of REQUEST_ID...: publish the next revision with enabled: {value}.

    Each id's record is read from the worker's ledger (DATAFLOW_STATE_URL), and its latest
    content is published again as revision + 1 with enabled: {value}; the worker applies it
    with the flow's {op} action and ends it in DataflowUpdated. An id the ledger does not
    know, or whose dataflow was deleted, is an error line (the others still go; exit 1).
    When the latest revision already asks for {state} (and did not fail), nothing is
    published: the line says "already {state} at revision N" (exit 0). A failed revision is
    published again one higher.

    Publish one revision at a time per id: a revision the worker has not received yet is not
    in the ledger, so two {op}s in a row would both be revision N + 1 (the second a
    conflict); --wait follows each to its end.

    \b
    Examples:
      dataflow-worker {name} crm-42
      dataflow-worker {name} crm-42 crm-43 --wait
"""


def _command(name: str, *, enabled: bool) -> click.Command:
    """The ``enable`` or ``disable`` command."""

    @click.command(
        name=name,
        help=_HELP.format(
            Verb=name.capitalize(),
            name=name,
            value=str(enabled).lower(),
            op=name,
            state="enabled" if enabled else "disabled",
        ),
    )
    @click.argument("request_ids", nargs=-1, required=True, metavar="REQUEST_ID...")
    @wait_options(f"each flow is {name}d")
    def command(
        request_ids: tuple[str, ...], wait: bool, timeout: float, progress_every: float
    ) -> None:
        switch(request_ids, enabled=enabled, wait=wait, timeout=timeout, every=progress_every)

    return command


enable = _command("enable", enabled=True)
disable = _command("disable", enabled=False)

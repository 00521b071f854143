"""``dataflow-worker dlq list``, ``replay``, ``drop`` and ``purge``: the parked requests.

``list`` browses the parking lot without consuming it (see :mod:`worker.broker.parking`). ``drop``
removes chosen messages and ``purge`` all of them, for good: for what must not be replayed (the
ledger is left as it is). ``replay``
re-drives a parked request from the step that failed: the ledger reopens it (steps that were
done keep what they created), the request is published again to ``<prefix>.commands`` as a new
event with confirms, and only then is the parked copy removed. A crash in between leaves the
parked copy, and replaying it again is harmless. :func:`decide` is the pure rule of what to do
with each parked message; :func:`choose` which messages ``drop`` removes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import click
from rich.table import Table

from messages import InvalidMessageError, content_hash, decode, new_event
from messages.models import DataflowRequested
from worker.broker.parking import Parked, ParkingLot
from worker.broker.topology import Topology
from worker.commands.output import add_id_column, confirm, make_console
from worker.commands.status import open_existing_ledger
from worker.config import load_settings
from worker.core.text import plural
from worker.errors import DataflowError
from worker.ledger import Ledger, RequestRecord
from worker.onboarding.requests import Prepared, prepared_event, worker_source

Action = Literal["replay", "republish", "remove", "refuse"]
_DONE: dict[Action, str] = {
    "replay": "replayed",
    "republish": "published again",
    "remove": "removed",
    "refuse": "not replayed",
}


@dataclass(frozen=True)
class Decision:
    """What replay does with one parked message, and why."""

    action: Action
    reason: str


def decide(
    parked: Parked, request: DataflowRequested | None, record: RequestRecord | None
) -> Decision:
    """The rule of ``dlq replay`` for one parked message (``request`` is its decoded content)."""
    if request is None or parked.reason == "invalid_message":
        return Decision("refuse", "the message cannot be read; fix it and publish it again")
    if parked.reason == "conflict":
        return Decision("refuse", "a conflicting duplicate; publish it under a new request_id")
    if record is None:
        return Decision("republish", "no ledger record: published again as a new request")
    if record.content_hash != content_hash(request):
        return Decision("refuse", "the ledger holds other content for this request_id")
    if record.status == "failed":
        return Decision("replay", f"re-driven from {_failed_step(record) or 'the start'}")
    if record.status == "created":
        return Decision("remove", "already created; removed from the parking lot")
    if record.status == "pending":
        return Decision("republish", "reopened earlier; published again")
    return Decision("remove", f"already being re-driven ({record.status})")


def _failed_step(record: RequestRecord) -> str | None:
    step = (record.last_error or {}).get("step")
    if isinstance(step, str):
        return step
    return next((name for name, state in record.steps.items() if state.state == "failed"), None)


def parked_request(parked: Parked) -> DataflowRequested | None:
    """The request a parked message carries, or ``None`` when it cannot be read."""
    try:
        event = decode(parked.body)
    except InvalidMessageError:
        return None
    return event.data if isinstance(event.data, DataflowRequested) else None


def parked_view(parked: Sequence[Parked]) -> list[dict[str, Any]]:
    """The parked messages as JSON-ready rows."""
    return [
        {
            "position": item.position,
            "request_id": item.request_id,
            "reason": item.reason,
            "message": item.message,
            "event_id": item.event_id,
        }
        for item in parked
    ]


def parked_table(rows: Sequence[dict[str, Any]]) -> Table:
    """The parked messages as a table for people."""
    table = Table(title=f"{len(rows)} parked", title_justify="left")
    table.add_column("#", justify="right")
    add_id_column(table, "request id")
    table.add_column("reason")
    table.add_column("message", overflow="fold")
    for row in rows:
        table.add_row(str(row["position"]), row["request_id"] or "-", row["reason"], row["message"])
    return table


def choose(
    parked: Sequence[Parked], request_ids: Sequence[str], positions: Sequence[int]
) -> tuple[list[Parked], list[str]]:
    """The messages of these requests or at these positions, and each id or ``#position`` that
    matched none (a request id may match several messages: all are chosen)."""
    ids, places = set(request_ids), set(positions)
    chosen = [item for item in parked if item.request_id in ids or item.position in places]
    present_ids = {item.request_id for item in parked}
    present_places = {item.position for item in parked}
    missing = [rid for rid in dict.fromkeys(request_ids) if rid not in present_ids]
    missing += [f"#{n}" for n in dict.fromkeys(positions) if n not in present_places]
    return chosen, missing


def replay(
    lot: ParkingLot,
    ledger: Ledger,
    republish: Callable[[Prepared], None],
    *,
    request_ids: Sequence[str] | None,
    source: str,
) -> list[tuple[str, Decision]]:
    """Re-drive the chosen parked requests (all when ``request_ids`` is None); say what was done."""
    wanted = None if request_ids is None else set(request_ids)
    results: list[tuple[str, Decision]] = []
    with lot.browse() as browse:
        for parked in browse.messages:
            if wanted is not None and parked.request_id not in wanted:
                continue
            request = parked_request(parked)
            record = ledger.get(request.request_id) if request is not None else None
            decision = decide(parked, request, record)
            name = parked.request_id or f"#{parked.position}"
            results.append((name, decision))
            if decision.action == "refuse":
                continue
            if decision.action == "replay" and record is not None:
                ledger.reopen_for_replay(record.request_id)
            if decision.action in ("replay", "republish") and request is not None:
                republish(prepared_event(new_event(request, source=source), name))
            browse.remove(parked)
    if wanted is not None:
        found = {name for name, _ in results}
        for missing in sorted(wanted - found):
            results.append((missing, Decision("refuse", "not in the parking lot")))
    return results


@click.group()
def dlq() -> None:
    """Inspect and re-drive requests parked in <prefix>.dead."""


@dlq.command(name="list", short_help="List parked requests without consuming them.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
def list_parked(as_json: bool) -> None:
    """List what is parked (request id, reason, message) without consuming it.

    Each message is taken without acknowledging it and handed back to its place, so order and
    content are unchanged. Reads DATAFLOW_BROKER_URL and DATAFLOW_TOPOLOGY_PREFIX.
    """
    settings = load_settings()
    with ParkingLot(settings.broker(), Topology(settings.topology_prefix)).browse() as browse:
        rows = parked_view(browse.messages)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        make_console().print(parked_table(rows))


@dlq.command(name="replay", short_help="Re-drive parked requests from the failed step.")
@click.argument("request_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every parked request.")
def replay_parked(request_ids: tuple[str, ...], replay_all: bool) -> None:
    """Re-drive parked requests from the step that failed (REQUEST_ID... or --all).

    The ledger reopens each request, keeping what earlier steps created; the request is
    published again to <prefix>.commands and then removed from the parking lot, and it ends in
    a new terminal event. Unreadable messages and conflicting duplicates are never replayed.
    Exit 1 when any request could not be replayed.
    """
    if bool(request_ids) == replay_all:
        raise click.UsageError("give REQUEST_ID... or --all (not both)")
    from worker.broker.publisher import Publisher

    settings = load_settings()
    topology = Topology(settings.topology_prefix)
    target = settings.broker()
    publisher = Publisher(target, topology)

    def republish(prepared: Prepared) -> None:
        publisher.publish_request(
            prepared.body, event_id=prepared.event_id, request_id=prepared.request_id
        )

    try:
        publisher.start()
        with open_existing_ledger(settings.state_url) as ledger:
            results = replay(
                ParkingLot(target, topology),
                ledger,
                republish,
                request_ids=None if replay_all else list(request_ids),
                source=worker_source(),
            )
    finally:
        publisher.close()
    for name, decision in results:
        click.echo(f"{name}: {_DONE[decision.action]}: {decision.reason}")
    refused = sum(1 for _, decision in results if decision.action == "refuse")
    click.echo(f"{len(results) - refused} handled, {refused} not replayed")
    if refused:
        raise DataflowError(f"{plural(refused, 'parked request')} not replayed")


@dlq.command(name="drop", short_help="Remove chosen parked messages for good.")
@click.argument("request_ids", nargs=-1, metavar="[REQUEST_ID]...")
@click.option(
    "--position",
    "positions",
    multiple=True,
    type=click.IntRange(min=1),
    help="A message's # in `dlq list` (repeatable): for messages without a request id.",
)
def drop_parked(request_ids: tuple[str, ...], positions: tuple[int, ...]) -> None:
    """Remove the parked messages of REQUEST_ID... (or at --position) without replaying them.

    For messages that must never run: they leave the parking lot for good, no event is
    published and the ledger is left as it is. Every message of a request id is removed.
    Positions are those `dlq list` shows; they shift once messages are removed, so list again
    before dropping by position. Exit 1 when an id or position matches no parked message.

    \b
    Examples:
      dataflow-worker dlq drop crm-42 crm-43
      dataflow-worker dlq drop --position 3
    """
    if not request_ids and not positions:
        raise click.UsageError("give REQUEST_ID... or --position N")
    settings = load_settings()
    lot = ParkingLot(settings.broker(), Topology(settings.topology_prefix))
    with lot.browse() as browse:
        chosen, missing = choose(browse.messages, request_ids, positions)
        for parked in chosen:
            browse.remove(parked)
            name = parked.request_id or f"#{parked.position}"
            click.echo(f"{name}: dropped ({parked.reason}: {parked.message})")
    for name in missing:
        click.echo(f"{name}: not in the parking lot")
    click.echo(f"{plural(len(chosen), 'parked message')} dropped from {lot.name}")
    if missing:
        raise DataflowError(f"{len(missing)} of those given are not in the parking lot")


@dlq.command(name="purge", short_help="Remove every parked message for good.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for a confirmation.")
def purge_parked(yes: bool) -> None:
    """Remove every message from the parking lot for good, without replaying any.

    Asks first, saying how many, unless --yes. Messages another `dlq` command holds at that
    moment are not removed. The ledger is left as it is.

    \b
    Examples:
      dataflow-worker dlq purge
      dataflow-worker dlq purge --yes
    """
    settings = load_settings()
    lot = ParkingLot(settings.broker(), Topology(settings.topology_prefix))
    depth = lot.depth()
    if depth == 0:
        click.echo(f"the parking lot {lot.name} is empty")
        return
    question = f"Remove all {plural(depth, 'parked message')} from {lot.name} for good?"
    confirm(question, yes=yes)
    click.echo(f"purged {plural(lot.purge(), 'parked message')} from {lot.name}")

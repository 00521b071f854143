"""``dataflow-worker dlq list`` and ``dlq replay``: inspect and re-drive parked requests.

``list`` browses the parking lot without consuming it (see :mod:`worker.broker.parking`). ``replay``
re-drives a parked request from the step that failed: the ledger reopens it (steps that were
done keep what they created), the request is published again to ``<prefix>.commands`` as a new
event with confirms, and only then is the parked copy removed. A crash in between leaves the
parked copy, and replaying it again is harmless. :func:`decide` is the pure rule of what to do
with each parked message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import click
from rich.console import Console
from rich.table import Table

from messages import InvalidMessageError, content_hash, decode, encode, new_event
from messages.models import DataflowRequested
from worker.broker.parking import Parked, ParkingLot
from worker.broker.topology import Topology
from worker.commands.status import open_existing_ledger
from worker.config import load_settings
from worker.errors import DataflowError
from worker.ledger import Ledger, RequestRecord
from worker.onboarding.requests import Prepared, worker_source

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
    for column in ("#", "request id", "reason", "message"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(str(row["position"]), row["request_id"] or "-", row["reason"], row["message"])
    return table


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
                event = new_event(request, source=source)
                republish(Prepared(name, request.request_id, event.id, encode(event)))
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
        Console().print(parked_table(rows))


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
        raise DataflowError(f"{refused} parked requests were not replayed")

"""``dataflow-worker audit [REQUEST_ID...] [--json]``: what drifted in the Platform.

For each dataflow the ledger holds as created (status ``created`` or ``updated``; or the ids
given), the last applied revision is compared with what the Platform holds
(:mod:`worker.platform.drift`): three reads per dataflow (the flow, its source and its target
connection), a few dataflows at a time. Nothing is changed unless ``--repair``, which publishes
the latest content of each drifted request again as its next revision: the worker re-reads the
flow and repairs what differs (contract 2.4).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import click
from rich.table import Table

from worker.commands.connections import with_platform
from worker.commands.ledgers import open_recorded
from worker.commands.output import add_id_column, make_console
from worker.config import BrokerTarget, load_settings
from worker.core.record import APPLIED, RequestRecord
from worker.core.text import plural
from worker.errors import NotFoundError, PlatformError
from worker.ledger import Ledger, RequestStatus
from worker.onboarding.lifecycle import next_revision
from worker.onboarding.requests import Prepared, publish_requests, worker_source
from worker.platform import PlatformClient
from worker.platform.drift import Applied, Drift, NotAuditableError, Observed, applied_of, drift

AT_ONCE = 8
"""Dataflows audited side by side (three Platform reads each)."""
_CREATED: tuple[RequestStatus, ...] = ("created", "updated")
"""The statuses audited when no id is given: dataflows whose last command was applied."""


@dataclass(frozen=True)
class Audited:
    """One dataflow's audit: its differences, or why it could not be compared."""

    record: RequestRecord
    applied: Applied
    drift: tuple[Drift, ...] = ()
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """``{request_id, flow_id, revision, drift: [{field, expected, actual}]}``."""
        return {
            "request_id": self.record.request_id,
            "flow_id": self.applied.flow_id,
            "revision": self.applied.revision,
            "drift": [asdict(found) for found in self.drift],
        }


def shown(value: Any) -> str:
    """A value for a table cell: ``missing`` for None, compact JSON for structures."""
    if value is None:
        return "missing"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "), sort_keys=True)


def render(audits: Sequence[Audited]) -> Table:
    """A row per difference: request id, flow id, what, expected, actual."""
    drifted = [audit for audit in audits if audit.drift]
    title = f"{plural(len(drifted), 'dataflow')} drifted of {len(audits)}"
    table = Table(title=title, title_justify="left")
    add_id_column(table, "request id")
    add_id_column(table, "flow id")
    table.add_column("what")
    table.add_column("expected", overflow="fold")
    table.add_column("actual", overflow="fold")
    for audit in drifted:
        for found in audit.drift:
            row = (audit.record.request_id, audit.applied.flow_id, found.field)
            table.add_row(*row, shown(found.expected), shown(found.actual))
    return table


async def observe(client: PlatformClient, applied: Applied) -> Observed:
    """The three reads of one dataflow, side by side; a 404 is what is missing."""
    sandbox = applied.request.sandbox
    flow, source, target = await asyncio.gather(
        _found(client.get_flow(sandbox, applied.flow_id)),
        _found(client.get_source_connection(sandbox, applied.source_connection_id)),
        _found(client.get_target_connection(sandbox, applied.target_connection_id)),
    )
    return Observed(flow, source is not None, target is not None)


async def audit_all(client: PlatformClient, targets: Sequence[Audited]) -> list[Audited]:
    """Audit each target, ``AT_ONCE`` at a time; a Platform error fails that one alone."""
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(target: Audited) -> Audited:
        async with gate:
            try:
                observed = await observe(client, target.applied)
            except PlatformError as error:
                return Audited(target.record, target.applied, error=str(error))
        return Audited(target.record, target.applied, tuple(drift(target.applied, observed)))

    return list(await asyncio.gather(*(one(target) for target in targets)))


def targets(ledger: Ledger, request_ids: Sequence[str]) -> tuple[list[Audited], list[str]]:
    """What to audit (every created dataflow, or the ids given), and a line per id that
    cannot be audited."""
    pairs: Iterable[tuple[str, RequestRecord | None]] = (
        [(request_id, ledger.get(request_id)) for request_id in dict.fromkeys(request_ids)]
        if request_ids
        else ((record.request_id, record) for record in ledger.records(_CREATED))
    )
    problems: list[str] = []
    found: list[Audited] = []
    for request_id, record in pairs:
        if record is None:
            problems.append(f"{request_id}: not in the ledger")
        elif record.status == "deleted":
            problems.append(f"{request_id}: deleted at revision {record.revision}")
        else:
            try:
                found.append(Audited(record, applied_of(record)))
            except NotAuditableError as error:
                problems.append(f"{request_id}: nothing to audit: {error}")
    return found, problems


@click.command()
@click.argument("request_ids", nargs=-1, metavar="[REQUEST_ID]...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
@click.option(
    "--repair",
    is_flag=True,
    help="Publish each drifted request again as its next revision (the worker repairs it).",
)
def audit(request_ids: tuple[str, ...], as_json: bool, repair: bool) -> None:
    """Compare each created dataflow's last applied revision with what the Platform holds.

    For every dataflow of the ledger (DATAFLOW_STATE_URL) in status created or updated, or
    for each REQUEST_ID, it reads the flow and its source and target connections and lists
    what differs from the last applied revision: the flow missing, its enabled state, its
    schedule, delta column and mapping set, connections missing or not the flow's. Needs the
    Platform settings of `run` (DATAFLOW_PLATFORM_URL, DATAFLOW_IMS_URL, DATAFLOW_CLIENT_ID,
    DATAFLOW_CLIENT_SECRET, DATAFLOW_ORG_ID). It changes nothing, unless --repair: then the
    latest content of each drifted request is published again as revision + 1, which the
    worker applies by re-reading the flow and repairing what differs (a missing flow is made
    again; a missing connection is not: delete the dataflow and onboard it again).

    A table (a row per difference) on a terminal, --json a list of objects (request_id,
    flow_id, revision, drift: [{field, expected, actual}]; actual null: missing). Exit 1
    when anything drifted or could not be audited, 0 when nothing did, 2 for configuration
    errors.

    \b
    Examples:
      dataflow-worker audit
      dataflow-worker audit crm-42 --json | jq '.[].drift'
      dataflow-worker audit --repair
    """
    settings = load_settings()
    settings.require_credentials()
    with open_recorded(settings.state_url, "audit") as ledger:
        chosen, problems = targets(ledger, request_ids)
    for target in chosen:
        if target.record.status not in APPLIED:
            record, revision = target.record, target.applied.revision
            state = f"revision {record.revision} is {record.status}"
            click.echo(f"note: {record.request_id}: {state}; audited {revision}", err=True)
    audits = with_platform(settings, lambda client: audit_all(client, chosen)) if chosen else []
    problems += [f"{a.record.request_id}: not audited: {a.error}" for a in audits if a.error]
    audited = [a for a in audits if a.error is None]
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if as_json:
        click.echo(json.dumps([a.as_json() for a in audited], indent=2))
    elif any(a.drift for a in audited):
        make_console().print(render(audited))
        if not repair:
            click.echo("to repair: dataflow-worker audit --repair (or publish a higher revision)")
    else:
        click.echo(f"no drift in {plural(len(audited), 'dataflow')}")
    drifted = [a for a in audited if a.drift]
    if repair and drifted:
        _repair(settings.broker(), settings.topology_prefix, drifted)
    if drifted or problems:
        raise SystemExit(1)


def _repair(target: BrokerTarget, prefix: str, drifted: Sequence[Audited]) -> None:
    """Publish each drifted request's latest content as its next revision."""
    source = worker_source()
    outgoing = [next_revision(a.record, source=source) for a in drifted if a.record.finished]
    for audit in drifted:
        if not audit.record.finished:
            click.echo(f"not repaired {audit.record.request_id}: a revision is under way", err=True)
    publish_requests(target, prefix, outgoing, _echo_repair)


def _echo_repair(ready: Prepared) -> None:
    revision = ready.request.revision if ready.request is not None else "?"
    click.echo(f"published {ready.request_id} revision {revision} to repair it", err=True)


async def _found(read: Awaitable[dict[str, Any]]) -> dict[str, Any] | None:
    try:
        return await read
    except NotFoundError:
        return None

"""``dataflow-worker connections create|list``: the Platform's base connections to databases.

A request's ``source.base_connection_id`` names one; ``create`` makes one from a connection string
read from a file (never from the command line, where it would show in the shell history and the
process list), ``list`` shows those of the sandbox. Neither ever prints the connection string.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import IO, Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from messages import find_connector
from messages.connectors import unknown_connector_message
from worker.config import Settings, load_settings
from worker.errors import PlatformError
from worker.observability.logs import Redactor, configure_logging
from worker.platform import PlatformClient, open_platform_client
from worker.platform.baseconnections import base_connection_body, connection_row

T = TypeVar("T")
_COLUMNS = ("id", "name", "connector", "state", "created")


def with_platform(
    settings: Settings, call: Callable[[PlatformClient], Awaitable[T]], *secrets: str
) -> T:
    """Run ``call`` with a Platform client in a new event loop; errors lose ``secrets``."""
    known = [s.get_secret_value() for s in (settings.client_secret,) if s is not None]
    configure_logging("console", "error", secrets=[*known, *secrets])

    async def run() -> T:
        async with open_platform_client(settings) as client:
            return await call(client)

    try:
        return asyncio.run(run())
    except PlatformError as error:
        error.args = (Redactor(secrets).scrub_text(str(error)),)
        raise


@click.group()
def connections() -> None:
    """Create and list base connections: the Platform's way to reach a database."""


@connections.command()
@click.option("--connector", required=True, help="The database's connector (mariadb, ...).")
@click.option(
    "--connection-string-file",
    required=True,
    type=click.File("r", encoding="utf-8"),
    help="A file holding the connection string (- for standard input).",
)
@click.option("--name", help="The base connection's name (default: '<connector> database').")
@click.option("--sandbox", help="The sandbox (default: DATAFLOW_SANDBOX).")
def create(
    connector: str, connection_string_file: IO[str], name: str | None, sandbox: str | None
) -> None:
    """Create a base connection to a database; print its id.

    The connection string is read from a file so that it never shows in the shell history or
    the process list, and it is never printed. The id goes to standard output alone, ready for
    `discover --base-connection-id`; what was created goes to standard error.

    \b
    Example:
      dataflow-worker connections create --connector mariadb \\
          --connection-string-file ./crm.connection --name "crm database"
    """
    found = find_connector(connector)
    if found is None:
        raise click.BadParameter(unknown_connector_message(connector), param_hint="--connector")
    connection_string = connection_string_file.read().strip()
    if not connection_string:
        raise click.BadParameter("the file is empty", param_hint="--connection-string-file")
    label = name or f"{found.name} database"
    body = base_connection_body(label, found.spec_id, connection_string)
    settings = load_settings()
    settings.require_credentials()
    connection_id = with_platform(
        settings, lambda client: client.create_base_connection(sandbox, body), connection_string
    )
    click.echo(connection_id)
    where = sandbox or settings.sandbox
    click.echo(f"created base connection {label!r} ({found.title}) in {where}", err=True)


@connections.command(name="list")
@click.option("--sandbox", help="The sandbox (default: DATAFLOW_SANDBOX).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_connections(sandbox: str | None, as_json: bool) -> None:
    """List the sandbox's base connections: id, name, connector, state, creation time.

    \b
    Example:
      dataflow-worker connections list --json | jq -r '.[] | select(.connector == "mariadb") | .id'
    """
    settings = load_settings()
    settings.require_credentials()
    items = with_platform(settings, lambda client: client.base_connections(sandbox))
    rows = [connection_row(item) for item in items]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no base connections in {sandbox or settings.sandbox}")
        return
    Console(width=200).print(_table(rows))


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in _COLUMNS:
        table.add_column(column, no_wrap=column == "id")
    for row in rows:
        table.add_row(*(str(row[column] or "-") for column in _COLUMNS))
    return table

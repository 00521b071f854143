"""``dataflow-worker connectors list``: the connector catalogue, with each connection spec id.

The catalogue is :mod:`messages.connectors`: every source of the CRMToAEP flow spec. A base
connection is created with the connector's connection spec id, and a request names the
connector (or that id) in ``source.connector``; this command is where both are looked up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from rich.table import Table

from messages.connectors import CONNECTORS, Connector, find_connector, unknown_connector_message
from worker.commands.output import add_id_column, make_console
from worker.core.text import plural
from worker.errors import ConfigurationError


def chosen(names: Sequence[str]) -> list[Connector]:
    """The connectors named (by short name or spec id), or all of them when none is named."""
    if not names:
        return list(CONNECTORS.values())
    found = []
    for name in names:
        connector = find_connector(name)
        if connector is None:
            raise ConfigurationError(unknown_connector_message(name))
        found.append(connector)
    return found


def connector_rows(connectors: Sequence[Connector]) -> list[dict[str, Any]]:
    """The connectors as JSON-ready rows."""
    return [
        {
            "name": connector.name,
            "spec_id": connector.spec_id,
            "title": connector.title,
            "kind": "database" if connector.database else "application",
            "date_format": connector.date_format,
        }
        for connector in connectors
    ]


def connector_table(rows: Sequence[dict[str, Any]]) -> Table:
    """The rows as a table for people."""
    table = Table(title=plural(len(rows), "connector"), title_justify="left")
    table.add_column("name", no_wrap=True)
    add_id_column(table, "connection spec id")
    table.add_column("title")
    table.add_column("kind")
    for row in rows:
        table.add_row(row["name"], row["spec_id"], row["title"], row["kind"])
    return table


@click.group()
def connectors() -> None:
    """The source connectors a request can name, with their connection spec ids."""


@connectors.command(name="list", short_help="List connectors and their connection spec ids.")
@click.argument("names", nargs=-1, metavar="[NAME|SPEC_ID]...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
def list_connectors(names: tuple[str, ...], as_json: bool) -> None:
    """List the connectors of the CRMToAEP flow spec (or only NAME...) with their spec ids.

    A base connection (Flow Service POST /connections) names its connector by this connection
    spec id; a request's source.connector takes the short name or the id. Needs no settings
    and no network. Exit 2 for a name that is no connector.

    \b
    Examples:
      dataflow-worker connectors list
      dataflow-worker connectors list postgresql mariadb
      dataflow-worker connectors list --json postgresql | jq -r '.[0].spec_id'
    """
    rows = connector_rows(chosen(names))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        make_console().print(connector_table(rows))

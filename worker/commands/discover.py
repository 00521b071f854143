"""``dataflow-worker discover``: introspect a database and write an onboarding manifest."""

from __future__ import annotations

from pathlib import Path

import click

from messages import find_connector
from messages.connectors import unknown_connector_message
from worker.core.text import plural
from worker.errors import ConfigurationError
from worker.onboarding.discovery import discover_tables, render_manifest, select_tables
from worker.onboarding.introspect import introspect, redact


@click.command()
@click.option("--dsn", required=True, help="postgresql://... or mysql://... of the database.")
@click.option(
    "--base-connection-id", required=True, help="The Platform base connection to the database."
)
@click.option("--connector", help="The connector name (default: from the DSN and the server).")
@click.option("--schema", help="Only this schema (default: all; MySQL: the DSN's database).")
@click.option("--include", multiple=True, help="Only tables matching this glob (repeatable).")
@click.option("--exclude", multiple=True, help="Leave out tables matching this glob (repeatable).")
@click.option(
    "--start-time",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="The schedules' start in epoch seconds; any past time means as soon as created.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here, not stdout.")
def discover(
    dsn: str,
    base_connection_id: str,
    connector: str | None,
    schema: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    start_time: int,
    output: str | None,
) -> None:
    """Introspect a database and write an onboarding manifest (YAML) of one request per table.

    Globs match `schema.table` or the bare table name. Each table's request id is stable
    (`tbl-` + SHA-256 of `<base_connection_id>/<schema.table>`), its delta column a timestamp
    column (updated_at/modified/last_modified first), its mapping mode auto, its schedule daily
    with backfill. Nothing depends on the clock, so discovering again writes the same manifest.
    Tables without a timestamp column are listed under `skipped`. Exit 2 for a bad DSN or when
    no table is left, 1 when the database cannot be read.
    """
    if connector is not None and find_connector(connector) is None:
        raise click.BadParameter(unknown_connector_message(connector), param_hint="--connector")
    found = introspect(dsn, schema)
    tables = select_tables(found.tables, include, exclude)
    if not tables:
        where = f"schema {schema!r} of " if schema else ""
        raise ConfigurationError(
            f"no table in {where}{redact(dsn)} matches the filters "
            f"({plural(len(found.tables), 'table')} before --include/--exclude)"
        )
    discovery = discover_tables(
        tables,
        connector=connector or found.connector,
        base_connection_id=base_connection_id,
        start_time=start_time,
    )
    if not discovery.requests:
        first = discovery.skipped[0]
        raise ConfigurationError(
            f"none of the {len(tables)} tables can be onboarded ({first.table}: {first.reason})"
        )
    text = render_manifest(discovery, origin=f"{connector or found.connector} {redact(dsn)}")
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
    for skipped in discovery.skipped:
        click.echo(f"skipped {skipped.table}: {skipped.reason}", err=True)
    for note in discovery.notes:
        click.echo(f"note {note}", err=True)
    click.echo(
        f"{plural(len(discovery.requests), 'table')} in the manifest, "
        f"{len(discovery.skipped)} skipped",
        err=True,
    )

"""``dataflow-worker demo``: onboard the shipped sample end to end with nothing installed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from worker.commands.output import add_id_column, make_console
from worker.commands.progress import progress_display
from worker.observability.logs import configure_logging
from worker.onboarding.demo import DemoOptions, DemoResult, run_demo

ATTEMPTS_NOTE = (
    "attempts: how often the worker started the table's steps, retries included "
    "(7 steps, 8 with mapping_mode auto: more means some were retried)"
)
NEXT_STEP = (
    "Next: the README's walkthrough does the same with your own RabbitMQ and database, "
    "starting with `dataflow-worker emulator --port 8080`."
)


def result_table(result: DemoResult) -> Table:
    """Every table's dataflow (or failure) as a rich table."""
    table = Table(title="dataflows", title_justify="left")
    table.add_column("table", overflow="fold")
    add_id_column(table, "flow id")
    table.add_column("attempts", justify="right")
    table.add_column("outcome")
    for row in result.tables:
        style = "green" if row.outcome == "created" else "red"
        table.add_row(
            row.table,
            row.flow_id or "-",
            str(row.attempts) if row.attempts is not None else "-",
            Text(row.outcome if row.detail is None else f"{row.outcome} ({row.detail})", style),
        )
    return table


@click.command()
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False),
    help="Onboard this request file instead of the shipped sample.",
)
@click.option("--no-faults", is_flag=True, help="Run against a Platform that never fails.")
@click.option(
    "--timeout",
    default=50.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Give up waiting after this many seconds.",
)
def demo(manifest: str | None, no_faults: bool, timeout: float) -> None:
    """Onboard a shipped sample of ten shop and CRM tables end to end, with nothing installed.

    Everything starts inside this process: kombu's in-memory broker, a SQLite ledger in a
    temporary directory, and the Platform emulator on a free loopback port, which answers
    10% of calls with 503 and 5% with 429 so the retries show. DATAFLOW_* settings are
    ignored. Exit 0 when every table has its dataflow, 1 otherwise.
    """
    options = DemoOptions(manifest=manifest, timeout_seconds=timeout)
    if no_faults:
        options = DemoOptions(manifest=manifest, faults={}, timeout_seconds=timeout)
    configure_logging("console", "error")  # the progress and the table tell the story
    display = progress_display("demo")

    def on_event(event_type: str, data: Mapping[str, Any]) -> None:
        if event_type == "StepCompleted":
            display.record("step")
        elif event_type == "DataflowCreated":
            display.record("created")
        elif event_type == "DataflowFailed":
            display.record("failed")

    try:
        result = run_demo(options, on_event, display.start)
    finally:
        display.close()
    console = make_console()
    console.print(result_table(result))
    console.print(ATTEMPTS_NOTE)
    console.print(result.summary(), style="bold green" if result.succeeded else "bold red")
    console.print(NEXT_STEP)
    if not result.succeeded:
        raise SystemExit(1)

"""``dataflow-worker demo``: onboard the shipped sample end to end with nothing installed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from worker.observability.logs import configure_logging
from worker.onboarding.demo import DemoOptions, DemoResult, run_demo


def result_table(result: DemoResult) -> Table:
    """Every table's dataflow (or failure) as a rich table."""
    table = Table(title="dataflows", title_justify="left")
    table.add_column("table", overflow="fold")
    table.add_column("flow id", min_width=36, no_wrap=True)
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
    configure_logging("console", "error")  # the progress bar and the table tell the story
    console = Console()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        steps = bar.add_task("steps", total=None)
        tables = bar.add_task("dataflows", total=None)

        def on_event(event_type: str, data: Mapping[str, Any]) -> None:
            if event_type == "StepCompleted":
                bar.advance(steps)
            elif event_type in ("DataflowCreated", "DataflowFailed"):
                bar.advance(tables)

        def on_start(requests: int, planned: int) -> None:
            bar.update(steps, total=planned)
            bar.update(tables, total=requests)

        result = run_demo(options, on_event, on_start)
    console.print(result_table(result))
    console.print(result.summary(), style="bold green" if result.succeeded else "bold red")
    if not result.succeeded:
        raise SystemExit(1)

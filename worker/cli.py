"""The ``dataflow-worker`` command: thin; parse, load settings, call into the app.

Each command lives in ``worker/commands/<name>.py``; this module only assembles them and turns
every expected error into one readable line (exit 2 for usage and configuration, 1 otherwise).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from worker import __version__
from worker.commands import COMMANDS
from worker.errors import ConfigurationError, DataflowError


class _Group(click.Group):
    """A group that prints expected errors as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except ConfigurationError as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        except DataflowError as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {error}", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dataflow-worker")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Onboard database tables into Adobe Experience Platform dataflows.

    Upstream systems publish DataflowRequested messages to RabbitMQ; `run` executes each one
    as an idempotent, retryable sequence of Platform calls and publishes events as it goes.

    \b
    Try it with nothing installed:   dataflow-worker demo
    Serve a local Platform:          dataflow-worker emulator --port 8080
    Configuration:                   DATAFLOW_* environment variables (see README)
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Entry point of the console script."""
    cli(prog_name="dataflow-worker")

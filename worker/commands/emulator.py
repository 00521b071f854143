"""``dataflow-worker emulator``: serve the local Platform emulator (placeholder)."""

from __future__ import annotations

import click


@click.command()
def emulator() -> None:
    """Serve the local Platform emulator (not built yet)."""
    raise click.UsageError("'emulator' is not built yet in this version")

"""How the commands print for people: consoles that work on and off a terminal, confirmations.

On a terminal, tables fit its width; off one (a pipe, a file, CI) rich would assume 80 columns
and wrap or cut, so there the console is unbounded and every table is as wide as its content.
Identifier columns fold instead of being cut, so an id is never shortened, even on a narrow
terminal.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

UNBOUNDED = 100_000
"""The width of a console off a terminal: wide enough that a table is sized by its content."""


def make_console(*, stderr: bool = False) -> Console:
    """A console on standard output (or error): the terminal's width, or unbounded off one."""
    console = Console(stderr=stderr)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, width=UNBOUNDED)


def add_id_column(table: Table, header: str) -> None:
    """A column of identifiers: folded onto more lines when space is short, never cut."""
    table.add_column(header, overflow="fold")


def confirm(question: str, *, yes: bool) -> None:
    """Ask ``question`` unless ``yes``; anything but yes (or no input at all) aborts, exit 1."""
    if not yes:
        click.confirm(question, abort=True, err=True)

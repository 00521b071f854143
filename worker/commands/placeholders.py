"""Commands of the contract that are not built yet: each says so and exits 2."""

from __future__ import annotations

import click


def _placeholder(name: str, summary: str) -> click.Command:
    @click.command(name=name, help=f"{summary} (not built yet).")
    def command() -> None:
        raise click.UsageError(f"'{name}' is not built yet in this version")

    return command


PLACEHOLDERS = [
    _placeholder("discover", "Introspect a database and write an onboarding manifest"),
    _placeholder("onboard", "Publish one request per table of a manifest"),
]

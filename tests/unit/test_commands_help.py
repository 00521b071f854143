"""Every command added for operators explains itself with an example in ``--help``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from worker.cli import cli

WITH_EXAMPLES = [
    ["connectors", "list"],
    ["dlq", "drop"],
    ["dlq", "purge"],
    ["status"],
    ["topology", "show"],
    ["topology", "delete"],
    ["onboard"],
    ["emulator"],
    ["delete"],
    ["disable"],
    ["enable"],
    ["audit"],
]


@pytest.mark.parametrize("command", WITH_EXAMPLES, ids=" ".join)
def test_the_help_shows_an_example_of_the_command(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    examples = result.output.split("Examples:", 1)[1]
    assert f"dataflow-worker {' '.join(command)} " in examples


@pytest.mark.parametrize("group", ["connectors", "dlq", "topology"])
def test_each_group_lists_its_commands(group: str) -> None:
    result = CliRunner().invoke(cli, [group, "--help"])
    assert result.exit_code == 0, result.output
    assert "Commands:" in result.output


def test_the_emulator_help_points_at_documents_users_have() -> None:
    result = CliRunner().invoke(cli, ["emulator", "--help"])
    assert "contract" not in result.output
    assert "docs/emulator.md" in result.output

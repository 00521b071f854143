"""``connectors list`` as a user runs it, with its output going to a pipe."""

from __future__ import annotations

import json
import subprocess

import pytest

from messages.connectors import CONNECTORS
from tests.integration.cli_support import run_cli

pytestmark = pytest.mark.integration


def connectors(*args: str) -> subprocess.CompletedProcess[str]:
    """``connectors ARGS`` with standard output and error to pipes."""
    return run_cli(["connectors", *args])


def test_the_table_lists_every_connector_with_its_whole_spec_id_on_one_line() -> None:
    result = connectors("list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{len(CONNECTORS)} connectors")
    for connector in CONNECTORS.values():
        [row] = [line for line in lines if f"│ {connector.name} " in line]
        assert connector.spec_id in row
        assert connector.title in row


def test_the_json_names_the_spec_id_of_the_connectors_asked_for() -> None:
    result = connectors("list", "--json", "postgresql", "3000eb99-cd47-43f3-827c-43caf170f015")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(row["name"], row["spec_id"], row["kind"]) for row in rows] == [
        ("postgresql", CONNECTORS["postgresql"].spec_id, "database"),
        ("mariadb", "3000eb99-cd47-43f3-827c-43caf170f015", "database"),
    ]


def test_an_unknown_connector_is_one_line_and_exit_2() -> None:
    result = connectors("list", "postgres")
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown connector 'postgres': use one of postgresql")
    assert result.stderr.count("\n") == 1

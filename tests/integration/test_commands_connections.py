"""``connections create`` and ``connections list`` against the emulator over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.testing import MARIADB_SPEC_ID, Emulator, running_emulator
from tests.integration.platform_support import emulator_env, run_command

pytestmark = pytest.mark.integration

CONNECTION_STRING = "Server=crm-db;Port=3306;Database=crm;UID=reader;PWD=Sup3r-S3cret"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A fresh emulator for one test."""
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A file holding the connection string, as an operator would write it."""
    path = tmp_path / "crm.connection"
    path.write_text(CONNECTION_STRING + "\n", encoding="utf-8")
    return path


def test_create_prints_the_new_base_connections_id_and_never_the_connection_string(
    emu: Emulator, secret_file: Path
) -> None:
    args = ["connections", "create", "--connector", "mariadb"]
    args += ["--connection-string-file", str(secret_file), "--name", "crm database"]
    result = run_command(args, emulator_env(emu))
    assert result.exit_code == 0, result.output
    [held] = emu.resources()["connections"]
    assert result.stdout == f"{held['id']}\n"
    assert "created base connection 'crm database' (MariaDB) in prod" in result.stderr
    assert held["name"] == "crm database"
    assert "Sup3r-S3cret" not in result.output


def test_list_shows_each_base_connection_with_its_connector(
    emu: Emulator, secret_file: Path
) -> None:
    mariadb = emu.create_base_connection(MARIADB_SPEC_ID, name="orders db")
    args = ["connections", "create", "--connector", "postgresql"]
    created = run_command([*args, "--connection-string-file", str(secret_file)], emulator_env(emu))
    postgres = created.stdout.strip()

    listed = run_command(["connections", "list", "--json"], emulator_env(emu))
    table = run_command(["connections", "list"], emulator_env(emu))

    assert listed.exit_code == 0, listed.output
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert (rows[mariadb]["name"], rows[mariadb]["connector"]) == ("orders db", "mariadb")
    assert (rows[postgres]["name"], rows[postgres]["connector"]) == (
        "postgresql database",
        "postgresql",
    )
    assert all(row["created"].endswith("Z") for row in rows.values())
    assert table.exit_code == 0, table.output
    assert mariadb in table.stdout
    assert "orders db" in table.stdout
    assert "Sup3r-S3cret" not in listed.output + table.output


def test_a_refused_create_says_why_in_the_platforms_words_without_the_secret(
    emu: Emulator, secret_file: Path
) -> None:
    # Salesforce authenticates otherwise: the emulator refuses a connection string for it.
    args = ["connections", "create", "--connector", "salesforce"]
    result = run_command([*args, "--connection-string-file", str(secret_file)], emulator_env(emu))
    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: flowservice POST /flowservice/connections answered 400")
    assert "is not supported by this connector" in line
    assert "Sup3r-S3cret" not in result.output
    assert emu.resources()["connections"] == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--connector", "nosuchdb"], "unknown connector 'nosuchdb'"),
        (["--connector", "mariadb", "--connection-string-file", "/nonexistent"], "No such file"),
    ],
)
def test_usage_errors_exit_2(emu: Emulator, args: list[str], says: str) -> None:
    if "--connection-string-file" not in args:
        args = [*args, "--connection-string-file", "-"]
    result = run_command(["connections", "create", *args], emulator_env(emu))
    assert result.exit_code == 2
    assert says in result.output


def test_an_empty_connection_string_file_is_a_usage_error(emu: Emulator, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    args = ["connections", "create", "--connector", "mariadb"]
    result = run_command([*args, "--connection-string-file", str(empty)], emulator_env(emu))
    assert result.exit_code == 2
    assert "the file is empty" in result.output
    assert emu.resources()["connections"] == []


def test_without_credentials_the_command_says_which_to_set(secret_file: Path) -> None:
    result = run_command(["connections", "list"], {"DATAFLOW_CLIENT_ID": "someone"})
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: set DATAFLOW_CLIENT_SECRET, DATAFLOW_ORG_ID (or the matching *_FILE variables) "
        "before running"
    )

"""The connector catalogue holds every CRMToAEP source with its real connection spec id."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from messages import CONNECTORS, UnknownConnectorError, resolve_connector
from messages.connectors import BY_SPEC_ID, DATABASE_NAMES, ISO_DATE_FORMAT

REFERENCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference"
CONTRACT_NAMES = [
    "postgresql",
    "mysql",
    "mariadb",
    "sql-server",
    "oracle",
    "db2",
    "redshift",
    "bigquery",
    "snowflake",
    "greenplum",
    "synapse",
    "azure-table-storage",
    "azure-data-explorer",
    "hive",
    "spark",
    "phoenix",
    "couchbase",
    "teradata",
    "vertica",
    "cassandra",
    "databricks",
]


def test_the_catalogue_has_all_37_connectors_with_distinct_valid_ids() -> None:
    assert len(CONNECTORS) == 37
    assert len(BY_SPEC_ID) == 37
    for connector in CONNECTORS.values():
        assert str(uuid.UUID(connector.spec_id)) == connector.spec_id


def test_the_database_names_are_exactly_the_contracts() -> None:
    assert sorted(DATABASE_NAMES) == sorted(CONTRACT_NAMES)


def test_the_spec_ids_are_the_ones_the_platform_facts_list() -> None:
    facts = REFERENCE / "platform-api-facts.md"
    if not facts.is_file():
        pytest.skip(f"reference not available: {facts}")
    section = facts.read_text().split("## 8.", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| ([0-9a-f-]{36}) \|", section, flags=re.MULTILINE))
    assert listed == set(BY_SPEC_ID)


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("mariadb", "mariadb"),
        ("3000eb99-cd47-43f3-827c-43caf170f015", "mariadb"),
        ("3000EB99-CD47-43F3-827C-43CAF170F015", "mariadb"),
        ("bigquery", "bigquery"),
        ("e9d7ec6b-0873-4e57-ad21-b3a7c65e310b", "databricks"),
        ("38ad80fe-8b06-4938-94f4-d4ee80266b07", "dynamics-online"),
    ],
)
def test_a_connector_resolves_by_name_or_spec_id(given: str, name: str) -> None:
    assert resolve_connector(given).name == name


@pytest.mark.parametrize("given", ["000eb99-cd47-43f3-827c-43caf170f015", "mongodb", "MariaDB", ""])
def test_an_unknown_connector_is_refused_with_the_valid_names(given: str) -> None:
    with pytest.raises(UnknownConnectorError, match="postgresql, mysql, mariadb"):
        resolve_connector(given)


def test_the_misprinted_mariadb_id_points_to_the_real_one() -> None:
    with pytest.raises(UnknownConnectorError, match="did you mean 3000eb99-cd47"):
        resolve_connector("000eb99-cd47-43f3-827c-43caf170f015")


@pytest.mark.parametrize(
    ("name", "date_format"),
    [
        ("azure-table-storage", ISO_DATE_FORMAT),
        ("dynamics-online", ISO_DATE_FORMAT),
        ("postgresql", "yyyy-MM-dd HH:mm:ss"),
        ("snowflake", "yyyy-MM-dd HH:mm:ss"),
    ],
)
def test_each_connector_knows_its_delta_column_date_format(name: str, date_format: str) -> None:
    assert CONNECTORS[name].date_format == date_format

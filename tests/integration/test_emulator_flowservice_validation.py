"""Flow Service over real HTTP: every validation rule answers with the Platform's error."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from emulator.specs import DATA_LAKE_SPEC_ID
from emulator.testing import MARIADB_SPEC_ID, POSTGRES_SPEC_ID, Emulator
from tests.integration.flowservice_support import (
    FS,
    Chain,
    chain,
    created_id,
    emu,
    error_type,
    http,
    source_body,
    target_body,
    unique,
)

__all__ = ["chain", "emu", "http"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "connectionSpec": {"id": MARIADB_SPEC_ID}}, "FLOW-1400-400"),
        (
            {
                "name": "x",
                "auth": {"specName": "Connection String Based Authentication", "params": {}},
                "connectionSpec": {"id": MARIADB_SPEC_ID},
            },
            "FLOW-1400-400",
        ),
        (
            {
                "name": "x",
                "auth": {"specName": "OAuth", "params": {"connectionString": "s"}},
                "connectionSpec": {"id": MARIADB_SPEC_ID},
            },
            "FLOW-1400-400",
        ),
        (
            {
                "name": "x",
                "auth": {"specName": "Connection String Based Authentication", "params": {}},
                "connectionSpec": {"id": "00000000-0000-0000-0000-000000000000"},
            },
            "FLOW-1413-400",
        ),
    ],
)
def test_an_invalid_base_connection_is_refused(
    http: httpx.Client, body: dict[str, Any], code: str
) -> None:
    response = http.post(f"{FS}/connections", json=body)
    assert response.status_code == 400
    assert error_type(response) == code
    assert response.json()["report"]["detailed-message"]


def test_a_source_connection_needs_an_existing_base_of_the_same_connector(
    emu: Emulator, http: httpx.Client
) -> None:
    base_id = emu.create_base_connection(MARIADB_SPEC_ID)
    missing = http.post(f"{FS}/sourceConnections", json=source_body(str(uuid.uuid4())))
    assert (missing.status_code, error_type(missing)) == (400, "FLOW-1400-400")
    other = http.post(f"{FS}/sourceConnections", json=source_body(base_id, POSTGRES_SPEC_ID))
    assert (other.status_code, error_type(other)) == (400, "FLOW-1400-400")
    assert "not" in other.json()["detail"]
    unknown = source_body(base_id, "11111111-1111-1111-1111-111111111111")
    response = http.post(f"{FS}/sourceConnections", json=unknown)
    assert error_type(response) == "FLOW-1413-400"
    with_state = http.post(f"{FS}/sourceConnections", json=source_body(base_id, state="enabled"))
    assert error_type(with_state) == "FLOW-1410-400"


def test_a_target_connection_needs_an_existing_dataset_and_the_full_schema_version(
    emu: Emulator, http: httpx.Client
) -> None:
    schema_id, dataset_id = emu.create_schema_and_dataset(unique("target schema"))
    missing = http.post(f"{FS}/targetConnections", json=target_body(schema_id, "0" * 24))
    assert (missing.status_code, error_type(missing)) == (400, "FLOW-1400-400")
    wrong_version = target_body(schema_id, dataset_id, "application/vnd.adobe.xed+json;version=1")
    response = http.post(f"{FS}/targetConnections", json=wrong_version)
    assert (response.status_code, error_type(response)) == (400, "FLOW-1400-400")
    assert "version" in response.json()["detail"]
    created_id(http.post(f"{FS}/targetConnections", json=target_body(schema_id, dataset_id)))


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        ("application/vnd.adobe.xed-full+json;version=1", True),  # the database tutorial
        ("application/vnd.adobe.xed-full+json;version=1.0", True),  # the spec, connector docs
        ("application/vnd.adobe.xed-full+json; version=1.0", True),
        ("application/vnd.adobe.xed-full+json", False),
        ("application/vnd.adobe.xed-full+json;version=2", False),
        ("application/vnd.adobe.xed+json;version=1.0", False),
    ],
)
def test_a_data_lake_target_takes_the_schema_versions_adobes_examples_use(
    emu: Emulator, http: httpx.Client, version: str, accepted: bool
) -> None:
    schema_id, dataset_id = emu.create_schema_and_dataset(unique("target schema"))
    body = target_body(schema_id, dataset_id, version)
    response = http.post(f"{FS}/targetConnections", json=body)
    if accepted:
        target_id = created_id(response)
        stored = http.get(f"{FS}/targetConnections/{target_id}").json()["items"][0]
        assert stored["data"]["schema"]["version"] == version
    else:
        assert (response.status_code, error_type(response)) == (400, "FLOW-1400-400")


def test_a_target_connection_to_another_schema_than_its_datasets_is_refused(
    emu: Emulator, http: httpx.Client
) -> None:
    _, dataset_id = emu.create_schema_and_dataset(unique("one"))
    other_schema, _ = emu.create_schema_and_dataset(unique("two"))
    response = http.post(f"{FS}/targetConnections", json=target_body(other_schema, dataset_id))
    assert (response.status_code, error_type(response)) == (400, "FLOW-1425-400")


def _copy(delta: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Copy", "params": {"deltaColumn": delta}}


@pytest.mark.parametrize(
    ("overrides", "code", "words"),
    [
        ({"flowSpec": {"id": str(uuid.UUID(int=1))}}, "FLOW-1413-400", "Flow spec"),
        ({"sourceConnectionIds": [str(uuid.UUID(int=2))]}, "FLOW-1400-400", "not found"),
        ({"targetConnectionIds": []}, "FLOW-1400-400", "targetConnectionIds"),
        ({"transformations": [_copy({"dateFormat": "x"})]}, "FLOW-1400-400", "deltaColumn.name"),
        (
            {"transformations": [{"name": "Mapping", "params": {"mappingId": "f" * 32}}]},
            "FLOW-1419-400",
            "Mapping set",
        ),
        (
            {"scheduleParams": {"startTime": "1", "frequency": "minute", "interval": "5"}},
            "FLOW-1400-400",
            "at least 15",
        ),
        (
            {"scheduleParams": {"startTime": "1", "frequency": "once", "interval": "1"}},
            "FLOW-1400-400",
            "not allowed",
        ),
        (
            {"scheduleParams": {"startTime": "1", "frequency": "hour"}},
            "FLOW-1400-400",
            "interval is required",
        ),
        ({"scheduleParams": {"frequency": "day", "interval": 1}}, "FLOW-1400-400", "startTime"),
        ({"state": "disabled"}, "FLOW-1410-400", "state"),
    ],
)
def test_an_invalid_flow_is_refused_with_the_platforms_error(
    http: httpx.Client, chain: Chain, overrides: dict[str, Any], code: str, words: str
) -> None:
    response = http.post(f"{FS}/flows", json=chain.flow_body(**overrides))
    assert response.status_code == 400, response.text
    assert error_type(response) == code
    assert words in response.json()["detail"]


def test_a_flow_from_a_source_outside_the_flow_spec_is_refused(
    emu: Emulator, http: httpx.Client, chain: Chain
) -> None:
    base = http.post(
        f"{FS}/connections",
        json={
            "name": "lake",
            "auth": {"specName": "Connection String Based Authentication", "params": {}},
            "connectionSpec": {"id": DATA_LAKE_SPEC_ID},
        },
    )
    assert base.status_code == 400  # the data lake spec has no auth spec to create a base with
    lake_source = source_body("", DATA_LAKE_SPEC_ID)
    lake_source.pop("baseConnectionId")
    lake_source_id = created_id(http.post(f"{FS}/sourceConnections", json=lake_source))
    response = http.post(f"{FS}/flows", json=chain.flow_body(sourceConnectionIds=[lake_source_id]))
    assert (response.status_code, error_type(response)) == (400, "FLOW-1400-400")
    assert "not supported" in response.json()["detail"]


def test_a_flow_whose_mapping_set_targets_another_schema_is_refused(
    emu: Emulator, http: httpx.Client, chain: Chain
) -> None:
    other_schema, _ = emu.create_schema_and_dataset(unique("other"))
    other_mapping = emu.create_mapping_set(other_schema, {"id": "_id"})
    mapping = {"name": "Mapping", "params": {"mappingId": other_mapping, "mappingVersion": 0}}
    body = chain.flow_body(transformations=[_copy({"name": "updated_at"}), mapping])
    response = http.post(f"{FS}/flows", json=body)
    assert (response.status_code, error_type(response)) == (400, "FLOW-1425-400")


def test_a_flow_with_an_unknown_mapping_version_is_refused(
    http: httpx.Client, chain: Chain
) -> None:
    mapping = {"name": "Mapping", "params": {"mappingId": chain.mapping_id, "mappingVersion": 7}}
    body = chain.flow_body(transformations=[_copy({"name": "updated_at"}), mapping])
    response = http.post(f"{FS}/flows", json=body)
    assert (response.status_code, error_type(response)) == (400, "FLOW-1412-400")

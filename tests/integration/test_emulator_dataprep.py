"""Data Prep over HTTP: mapping sets in both dialects, destination checks, versions, lists."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.registry_support import (
    CONVERSION,
    PERSON_DETAILS,
    PERSONAL_DETAILS,
    PROFILE,
    PlatformApi,
    api,
    assert_platform_error,
    emulator,
)

__all__ = ["api", "emulator"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration

SUMMARY_KEYS = {"id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy"}


@pytest.fixture
def schema_id(api: PlatformApi) -> str:
    """A tenant schema with person and contact details and a tenant field group."""
    group = api.create_field_group(
        "crm fields", {"crm": {"properties": {"tier": {"type": "string"}}}}
    )
    schema = api.create_schema("crm people", PROFILE, PERSON_DETAILS, PERSONAL_DETAILS, group)
    return str(schema["$id"])


def legacy_body(schema_id: str, mappings: list[tuple[str, str]]) -> dict[str, Any]:
    """The database tutorial's ``xdmSchema`` dialect."""
    return {
        "version": 0,
        "xdmSchema": schema_id,
        "xdmVersion": "1.0",
        "id": None,
        "mappings": [
            {
                "destinationXdmPath": destination,
                "sourceAttribute": source,
                "identity": False,
                "identityGroup": None,
                "namespaceCode": None,
                "version": 0,
            }
            for source, destination in mappings
        ],
    }


def output_body(schema_id: str, mappings: list[tuple[str, str]]) -> dict[str, Any]:
    """The ``outputSchema`` dialect."""
    return {
        "outputSchema": {
            "schemaRef": {
                "id": schema_id,
                "contentType": "application/vnd.adobe.xed-full+json;version=1",
            }
        },
        "mappings": [
            {"sourceType": "ATTRIBUTE", "source": source, "destination": destination}
            for source, destination in mappings
        ],
    }


MAPPINGS = [
    ("id", "_id"),
    ("full_name", "person.name.fullName"),
    ("born", "person.birthDate"),
    ("email", "personalEmail.address"),
]


def _create(api: PlatformApi, body: dict[str, Any]) -> dict[str, Any]:
    response = api.request("POST", f"{CONVERSION}/mappingSets", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize("dialect", [legacy_body, output_body])
def test_creating_a_mapping_set_answers_200_with_its_id_and_version(
    api: PlatformApi, schema_id: str, dialect: Any
) -> None:
    created = _create(api, dialect(schema_id, MAPPINGS))
    assert set(created) == SUMMARY_KEYS
    assert re.fullmatch(r"[0-9a-f]{32}", created["id"])
    assert created["version"] == 0
    assert created["createdDate"] == created["modifiedDate"]
    assert isinstance(created["createdDate"], int)


@pytest.mark.parametrize("dialect", [legacy_body, output_body])
def test_a_stored_mapping_set_carries_both_field_forms(
    api: PlatformApi, schema_id: str, dialect: Any
) -> None:
    created = _create(api, dialect(schema_id, MAPPINGS))
    response = api.request("GET", f"{CONVERSION}/mappingSets/{created['id']}")
    assert response.status_code == 200
    stored = response.json()
    assert {key: stored[key] for key in SUMMARY_KEYS} == created
    assert stored["xdmSchema"] == schema_id
    assert stored["schemaRef"]["id"] == schema_id
    assert stored["outputSchema"]["schemaRef"]["id"] == schema_id
    assert stored["status"] == "PUBLISHED"
    assert stored["supportVersion"] == "1.1"
    pairs = [(m["source"], m["destination"]) for m in stored["mappings"]]
    assert pairs == MAPPINGS
    for mapping in stored["mappings"]:
        assert mapping["sourceAttribute"] == mapping["source"]
        assert mapping["destinationXdmPath"] == mapping["destination"]
        assert mapping["sourceType"] == "text/x.schema-path"
        assert re.fullmatch(r"[0-9a-f]{32}", mapping["id"])


def test_a_tenant_field_group_path_is_a_valid_destination(api: PlatformApi, schema_id: str) -> None:
    _create(api, legacy_body(schema_id, [("tier", f"_{api.tenant}.crm.tier")]))


def test_a_destination_missing_from_the_schema_is_refused(api: PlatformApi, schema_id: str) -> None:
    body = output_body(schema_id, [*MAPPINGS, ("x", "person.shoeSize"), ("y", "workEmail.address")])
    response = api.request("POST", f"{CONVERSION}/mappingSets", json=body)
    error = assert_platform_error(response, 400, "DP-1003")
    assert "person.shoeSize" in error["detail"]
    assert "workEmail.address" in error["detail"]


def test_a_mapping_set_of_a_schema_that_does_not_exist_is_refused(api: PlatformApi) -> None:
    body = legacy_body(f"https://ns.adobe.com/{api.tenant}/schemas/0000", MAPPINGS)
    response = api.request("POST", f"{CONVERSION}/mappingSets", json=body)
    assert_platform_error(response, 400, "DP-1002")


def test_a_destination_mapped_twice_is_refused(api: PlatformApi, schema_id: str) -> None:
    body = legacy_body(schema_id, [("a", "_id"), ("b", "_id")])
    response = api.request("POST", f"{CONVERSION}/mappingSets", json=body)
    assert_platform_error(response, 400, "DP-1004")


@pytest.mark.parametrize(
    "change",
    [
        {"mappings": []},
        {"mappings": "none"},
        {"mappings": [{"destination": "_id"}]},
        {"mappings": [{"source": "id"}]},
        {"mappings": [{"source": "id", "destination": "_id", "sourceType": "MAGIC"}]},
        {"outputSchema": {"schemaRef": {"contentType": "x"}}},
    ],
)
def test_a_malformed_mapping_set_is_refused(
    api: PlatformApi, schema_id: str, change: dict[str, Any]
) -> None:
    body = {**output_body(schema_id, MAPPINGS), **change}
    response = api.request("POST", f"{CONVERSION}/mappingSets", json=body)
    assert_platform_error(response, 400, "DP-1001")


def test_a_body_without_a_schema_is_refused(api: PlatformApi) -> None:
    response = api.request("POST", f"{CONVERSION}/mappingSets", json={"mappings": []})
    assert_platform_error(response, 400, "DP-1001")


def test_an_expression_mapping_keeps_its_source_type(api: PlatformApi, schema_id: str) -> None:
    body = output_body(schema_id, MAPPINGS)
    body["mappings"].append(
        {"sourceType": "EXPRESSION", "source": "lower(email)", "destination": "person.name.suffix"}
    )
    created = _create(api, body)
    stored = api.request("GET", f"{CONVERSION}/mappingSets/{created['id']}").json()
    assert stored["mappings"][-1]["sourceType"] == "EXPRESSION"


def test_an_unknown_mapping_set_is_not_found(api: PlatformApi) -> None:
    response = api.request("GET", f"{CONVERSION}/mappingSets/{'0' * 32}")
    assert_platform_error(response, 404, "DP-1006")


def test_mapping_sets_cannot_be_deleted(api: PlatformApi, schema_id: str) -> None:
    created = _create(api, legacy_body(schema_id, MAPPINGS))
    response = api.request("DELETE", f"{CONVERSION}/mappingSets/{created['id']}")
    assert_platform_error(response, 405, "DP-1007")
    assert api.request("GET", f"{CONVERSION}/mappingSets/{created['id']}").status_code == 200


def test_a_put_stores_the_next_version_and_keeps_the_previous(
    api: PlatformApi, schema_id: str
) -> None:
    created = _create(api, legacy_body(schema_id, MAPPINGS))
    path = f"{CONVERSION}/mappingSets/{created['id']}"
    response = api.request("PUT", path, json=legacy_body(schema_id, MAPPINGS[:2]))
    assert response.status_code == 200
    updated = response.json()
    assert updated["id"] == created["id"]
    assert updated["version"] == 1
    assert updated["createdDate"] == created["createdDate"]
    assert len(updated["mappings"]) == 2
    assert api.request("GET", path).json()["version"] == 1
    first = api.request("GET", path, params={"version": 0}).json()
    assert len(first["mappings"]) == len(MAPPINGS)
    assert_platform_error(api.request("GET", path, params={"version": 7}), 404, "DP-1006")


def test_a_put_is_checked_like_a_create(api: PlatformApi, schema_id: str) -> None:
    created = _create(api, legacy_body(schema_id, MAPPINGS))
    body = legacy_body(schema_id, [("x", "person.shoeSize")])
    response = api.request("PUT", f"{CONVERSION}/mappingSets/{created['id']}", json=body)
    assert_platform_error(response, 400, "DP-1003")


def test_expand_schema_adds_the_output_json_schema(api: PlatformApi, schema_id: str) -> None:
    created = _create(api, legacy_body(schema_id, MAPPINGS))
    response = api.request(
        "GET", f"{CONVERSION}/mappingSets/{created['id']}", params={"expandSchema": "true"}
    )
    json_schema = response.json()["outputSchema"]["jsonSchema"]
    assert json_schema["id"] == schema_id
    assert "person" in json_schema["properties"]


def test_the_mappings_of_a_set_are_listed_and_read_one_by_one(
    api: PlatformApi, schema_id: str
) -> None:
    created = _create(api, legacy_body(schema_id, MAPPINGS))
    path = f"{CONVERSION}/mappingSets/{created['id']}/mappings"
    mappings = api.request("GET", path).json()
    assert [m["destination"] for m in mappings] == [d for _, d in MAPPINGS]
    one = api.request("GET", f"{path}/{mappings[1]['id']}").json()
    assert one == mappings[1]
    assert_platform_error(api.request("GET", f"{path}/{'0' * 32}"), 404, "DP-1006")


def test_validate_reports_one_status_per_mapping(api: PlatformApi, schema_id: str) -> None:
    body = output_body(schema_id, MAPPINGS)
    response = api.request("POST", f"{CONVERSION}/mappingSets/validate", json=body)
    assert response.status_code == 200
    assert response.json() == {
        "validationResponse": [{"status": "SUCCESS", "errors": None}] * len(MAPPINGS)
    }


def test_mapping_sets_are_listed_page_by_page(api: PlatformApi, schema_id: str) -> None:
    ids = [_create(api, legacy_body(schema_id, MAPPINGS))["id"] for _ in range(3)]
    params: dict[str, Any] = {"limit": 2, "start": 0, "orderBy": "+createdDate"}
    first = api.request("GET", f"{CONVERSION}/mappingSets", params=params).json()
    assert first["_page"] == {"count": 2, "limit": 2}
    assert "start=2" in first["_links"]["next"]["href"]
    second = api.request("GET", f"{CONVERSION}/mappingSets", params={**params, "start": 2}).json()
    assert second["_links"] == {}
    assert [m["id"] for m in first["data"] + second["data"]] == ids


def test_listed_newest_first_each_set_carries_its_output_schema_and_mappings(
    api: PlatformApi, schema_id: str
) -> None:
    ids = [_create(api, legacy_body(schema_id, MAPPINGS))["id"] for _ in range(3)]
    params: dict[str, Any] = {"limit": 10, "start": 0, "orderBy": "-createdDate"}
    data = api.request("GET", f"{CONVERSION}/mappingSets", params=params).json()["data"]
    assert [m["id"] for m in data] == list(reversed(ids))
    for listed in data:
        assert listed["outputSchema"]["schemaRef"]["id"] == schema_id
        pairs = [(m["source"], m["destination"]) for m in listed["mappings"]]
        assert pairs == MAPPINGS


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"start": "x"}, {"orderBy": "name"}, {"expandSchema": "maybe"}]
)
def test_a_bad_list_query_is_refused(api: PlatformApi, params: dict[str, str]) -> None:
    response = api.request("GET", f"{CONVERSION}/mappingSets", params=params)
    assert_platform_error(response, 400, "DP-1005")

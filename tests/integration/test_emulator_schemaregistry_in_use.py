"""Deleting what is still in use, over HTTP: the Schema Registry refuses, Catalog does not."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from emulator.specs import DATA_LAKE_SPEC_ID, XED_FULL_V1
from tests.integration import registry_support as support
from tests.integration.registry_support import PlatformApi, assert_platform_error

api, emulator = support.api, support.emulator  # fixtures, for pytest
CATALOG, REGISTRY = support.CATALOG, support.REGISTRY
PROFILE, PERSON_DETAILS = support.PROFILE, support.PERSON_DETAILS
pytestmark = pytest.mark.integration

FS = "/data/foundation/flowservice"
LOYALTY_FIELDS = {"loyaltyTier": {"type": "string"}}


def delete(api: PlatformApi, kind: str, ref: str) -> int:
    """``DELETE /tenant/<kind>/<URL-encoded ref>``: the status."""
    return api.request("DELETE", f"{REGISTRY}/tenant/{kind}/{quote(ref, safe='')}").status_code


@pytest.mark.parametrize("by", ["$id", "meta:altId"])
def test_a_field_group_a_schema_includes_is_deleted_only_after_the_schema(
    api: PlatformApi, by: str
) -> None:
    group = api.create_field_group("crm loyalty", LOYALTY_FIELDS)
    schema = api.create_schema("crm members", PROFILE, group)
    group_ref = api.lookup("fieldgroups", group).json()[by]
    path = f"{REGISTRY}/tenant/fieldgroups/{quote(group_ref, safe='')}"
    body = assert_platform_error(api.request("DELETE", path), 400, "XDM-1304")
    assert body["title"] == "Resource in use"
    assert f"used by schema {schema['$id']} (crm members)" in body["detail"]
    assert api.lookup("fieldgroups", group).status_code == 200
    assert delete(api, "schemas", schema["$id"]) == 204
    assert delete(api, "fieldgroups", group_ref) == 204
    assert_platform_error(api.request("DELETE", path), 404, "XDM-1012")


def test_a_field_group_is_refused_while_any_schema_includes_it(api: PlatformApi) -> None:
    group = api.create_field_group("crm loyalty", LOYALTY_FIELDS)
    first = api.create_schema("crm members", PROFILE, group)
    second = api.create_schema("crm guests", PROFILE, PERSON_DETAILS, group)
    assert delete(api, "schemas", first["$id"]) == 204
    response = api.request("DELETE", f"{REGISTRY}/tenant/mixins/{quote(group, safe='')}")
    body = assert_platform_error(response, 400, "XDM-1304")
    assert second["$id"] in body["detail"]


def test_a_schema_a_dataset_refers_to_is_deleted_only_after_the_dataset(api: PlatformApi) -> None:
    schema = api.create_schema("crm people", PROFILE, PERSON_DETAILS)["$id"]
    dataset = api.create_dataset("crm people data", schema)
    path = f"{REGISTRY}/tenant/schemas/{quote(schema, safe='')}"
    body = assert_platform_error(api.request("DELETE", path), 400, "XDM-1304")
    assert f"used by dataset {dataset} (crm people data)" in body["detail"]
    assert api.request("DELETE", f"{CATALOG}/dataSets/{dataset}").status_code == 200
    assert api.request("DELETE", path).status_code == 204
    assert_platform_error(api.request("DELETE", path), 404, "XDM-1012")


def test_a_standard_field_group_in_other_schemas_does_not_hold_a_schema(api: PlatformApi) -> None:
    api.create_schema("crm people", PROFILE, PERSON_DETAILS)
    doomed = api.create_schema("crm doomed", PROFILE, PERSON_DETAILS)["$id"]
    assert delete(api, "schemas", doomed) == 204


def test_catalog_deletes_a_dataset_a_target_connection_still_names(api: PlatformApi) -> None:
    schema = api.create_schema("crm people", PROFILE, PERSON_DETAILS)["$id"]
    dataset = api.create_dataset("crm people data", schema)
    target = {
        "name": "crm target",
        "data": {"schema": {"id": schema, "version": XED_FULL_V1}},
        "params": {"dataSetId": dataset},
        "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": "1.0"},
    }
    created = api.request("POST", f"{FS}/targetConnections", json=target)
    assert created.status_code == 201, created.text
    users = api.request(
        "GET", f"{FS}/targetConnections", params={"property": f"params.dataSetId=={dataset}"}
    )
    assert [item["id"] for item in users.json()["items"]] == [created.json()["id"]]
    deleted = api.request("DELETE", f"{CATALOG}/dataSets/{dataset}")
    assert deleted.status_code == 200
    again = api.request("DELETE", f"{CATALOG}/dataSets/{dataset}")
    assert_platform_error(again, 404, "CAT-1004")

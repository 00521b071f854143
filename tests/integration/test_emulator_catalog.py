"""Catalog over HTTP: dataset create, get, list filters, paging, projection, delete, errors."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.integration.registry_support import (
    CATALOG,
    CONVERSION,
    PERSON_DETAILS,
    PROFILE,
    REGISTRY,
    PlatformApi,
    api,
    assert_platform_error,
    dataset_body,
    emulator,
)

__all__ = ["api", "emulator"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration


@pytest.fixture
def schema_id(api: PlatformApi) -> str:
    """A tenant schema of the test's org."""
    return str(api.create_schema("crm people", PROFILE, PERSON_DETAILS)["$id"])


def _names(api: PlatformApi, **params: Any) -> list[str]:
    response = api.request("GET", f"{CATALOG}/dataSets", params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json().values()]


def test_creating_a_dataset_answers_with_its_reference_and_location(
    api: PlatformApi, schema_id: str
) -> None:
    response = api.request("POST", f"{CATALOG}/dataSets", json=dataset_body("crm ds", schema_id))
    assert response.status_code == 201
    [reference] = response.json()
    match = re.fullmatch(r"@/dataSets/([0-9a-f]{24})", reference)
    assert match is not None
    assert response.headers["Location"].endswith(f"{CATALOG}/dataSets/{match[1]}")


def test_a_dataset_is_read_back_keyed_by_its_id(api: PlatformApi, schema_id: str) -> None:
    dataset_id = api.create_dataset("crm ds", schema_id)
    response = api.request("GET", f"{CATALOG}/dataSets/{dataset_id}")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == [dataset_id]
    dataset = body[dataset_id]
    assert dataset["name"] == "crm ds"
    assert dataset["imsOrg"] == api.org
    assert dataset["schemaRef"] == {
        "id": schema_id,
        "contentType": "application/vnd.adobe.xed+json;version=1",
    }
    assert dataset["created"] == dataset["updated"]
    assert isinstance(dataset["created"], int)
    assert re.fullmatch(r"[0-9a-f]{24}", dataset["viewId"])
    assert dataset["version"] == "1.0.0"
    assert "id" not in dataset


def test_a_dataset_may_name_its_schema_by_alt_id(api: PlatformApi) -> None:
    schema = api.create_schema("crm alt", PROFILE)
    dataset_id = api.create_dataset("crm ds", schema["meta:altId"])
    dataset = api.request("GET", f"{CATALOG}/dataSets/{dataset_id}").json()[dataset_id]
    assert dataset["schemaRef"]["id"] == schema["$id"]


def test_a_dataset_of_a_schema_that_does_not_exist_is_refused(api: PlatformApi) -> None:
    body = dataset_body("crm ds", f"https://ns.adobe.com/{api.tenant}/schemas/0000")
    response = api.request("POST", f"{CATALOG}/dataSets", json=body)
    assert_platform_error(response, 400, "CAT-1002")


def test_a_schema_of_another_org_is_not_visible(api: PlatformApi) -> None:
    other = PlatformApi(api.emulator, "OTHER" + api.org)
    try:
        foreign = other.create_schema("crm foreign", PROFILE)["$id"]
    finally:
        other.close()
    response = api.request("POST", f"{CATALOG}/dataSets", json=dataset_body("crm ds", foreign))
    assert_platform_error(response, 400, "CAT-1002")


@pytest.mark.parametrize(
    "change",
    [
        {"name": ""},
        {"name": 42},
        {"schemaRef": None},
        {"schemaRef": {"contentType": "application/vnd.adobe.xed+json;version=1"}},
        {"schemaRef": {"id": "x", "contentType": "application/json"}},
        {"tags": {"unifiedProfile": "enabled:true"}},
        {"description": 1},
    ],
)
def test_a_malformed_dataset_body_is_refused(
    api: PlatformApi, schema_id: str, change: dict[str, Any]
) -> None:
    body = {**dataset_body("crm ds", schema_id), **change}
    response = api.request("POST", f"{CATALOG}/dataSets", json=body)
    assert_platform_error(response, 400, "CAT-1001")


def test_tags_and_description_are_kept(api: PlatformApi, schema_id: str) -> None:
    body = {
        **dataset_body("crm ds", schema_id),
        "description": "people",
        "tags": {"unifiedProfile": ["enabled:true"]},
    }
    response = api.request("POST", f"{CATALOG}/dataSets?requestDataSource=true", json=body)
    dataset_id = response.json()[0].rsplit("/", 1)[-1]
    dataset = api.request("GET", f"{CATALOG}/dataSets/{dataset_id}").json()[dataset_id]
    assert dataset["description"] == "people"
    assert dataset["tags"] == {"unifiedProfile": ["enabled:true"]}


def test_an_unknown_dataset_is_not_found(api: PlatformApi) -> None:
    response = api.request("GET", f"{CATALOG}/dataSets/{'0' * 24}")
    assert_platform_error(response, 404, "CAT-1004")


def test_a_deleted_dataset_is_gone(api: PlatformApi, schema_id: str) -> None:
    dataset_id = api.create_dataset("crm ds", schema_id)
    response = api.request("DELETE", f"{CATALOG}/dataSets/{dataset_id}")
    assert response.status_code == 200
    assert response.json() == [f"@/dataSets/{dataset_id}"]
    assert_platform_error(api.request("GET", f"{CATALOG}/dataSets/{dataset_id}"), 404, "CAT-1004")
    response = api.request("DELETE", f"{CATALOG}/dataSets/{dataset_id}")
    assert_platform_error(response, 404, "CAT-1004")


NAMES = ["crm orders", "crm orders (dataset) [r-1]", "crm people", "crm*star", "web hits"]


@pytest.fixture
def named(api: PlatformApi, schema_id: str) -> None:
    """Datasets with the names above, created in that order."""
    for name in NAMES:
        api.create_dataset(name, schema_id)


@pytest.mark.usefixtures("named")
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("crm orders", ["crm orders"]),
        ("crm orders (dataset) [r-1]", ["crm orders (dataset) [r-1]"]),
        ("!crm orders", ["crm orders (dataset) [r-1]", "crm people", "crm*star", "web hits"]),
        ("crm people,web hits", ["crm people", "web hits"]),
        ("!crm people,web hits", ["crm orders", "crm orders (dataset) [r-1]", "crm*star"]),
        ("crm orders*", ["crm orders", "crm orders (dataset) [r-1]"]),
        ("*hits", ["web hits"]),
        ("crm**star", ["crm*star"]),
        ("crm*", ["crm orders", "crm orders (dataset) [r-1]", "crm people", "crm*star"]),
        ("nothing", []),
    ],
)
def test_the_name_filter_speaks_catalog_syntax(
    api: PlatformApi, name: str, expected: list[str]
) -> None:
    assert _names(api, name=name, limit=100) == expected


@pytest.mark.usefixtures("named")
@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        ("name==crm people", ["crm people"]),
        ("name!=crm people", [n for n in NAMES if n != "crm people"]),
        ("name~^crm o", ["crm orders", "crm orders (dataset) [r-1]"]),
        ("description", []),
        ("!description", NAMES),
        ("name", NAMES),
    ],
)
def test_the_property_filter_speaks_catalog_syntax(
    api: PlatformApi, prop: str, expected: list[str]
) -> None:
    assert _names(api, property=prop, limit=100) == expected


@pytest.mark.usefixtures("named")
def test_filters_combine_as_and(api: PlatformApi) -> None:
    assert _names(api, name="crm*", property="name~people") == ["crm people"]


@pytest.mark.usefixtures("named")
def test_datasets_are_ordered_and_paged(api: PlatformApi) -> None:
    assert _names(api, orderBy="desc:name", limit=2) == ["web hits", "crm*star"]
    assert _names(api, orderBy="desc:name", limit=2, start=2) == [
        "crm people",
        "crm orders (dataset) [r-1]",
    ]
    assert _names(api, orderBy="asc:name", start=4) == ["web hits"]


def test_the_default_page_holds_twenty_datasets(api: PlatformApi, schema_id: str) -> None:
    for i in range(21):
        api.create_dataset(f"crm ds {i:02d}", schema_id)
    assert len(_names(api)) == 20
    assert _names(api, start=20) == ["crm ds 20"]


@pytest.mark.usefixtures("named")
def test_properties_cut_each_dataset_down(api: PlatformApi) -> None:
    response = api.request(
        "GET", f"{CATALOG}/dataSets", params={"properties": "name,schemaRef", "limit": 1}
    )
    [dataset] = response.json().values()
    assert set(dataset) == {"name", "schemaRef"}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"start": "-1"},
        {"orderBy": "sideways:name"},
        {"property": "schemaRef.id==x"},
        {"property": "name~("},
        {"createdAfter": "yesterday"},
    ],
)
def test_a_bad_list_query_is_refused_naming_the_problem(
    api: PlatformApi, params: dict[str, str]
) -> None:
    response = api.request("GET", f"{CATALOG}/dataSets", params=params)
    body = assert_platform_error(response, 400, "CAT-1003")
    if "limit" in params:
        assert "between 1 and 100" in body["detail"]


def test_created_after_and_before_bound_the_creation_time(api: PlatformApi, schema_id: str) -> None:
    dataset_id = api.create_dataset("crm ds", schema_id)
    created = api.request("GET", f"{CATALOG}/dataSets/{dataset_id}").json()[dataset_id]["created"]
    assert _names(api, createdAfter=created - 1) == ["crm ds"]
    assert _names(api, createdAfter=created) == []
    assert _names(api, createdBefore=created + 1) == ["crm ds"]


def test_a_patch_changes_the_given_fields_and_the_version(api: PlatformApi, schema_id: str) -> None:
    dataset_id = api.create_dataset("crm ds", schema_id)
    path = f"{CATALOG}/dataSets/{dataset_id}"
    before = api.request("GET", path).json()[dataset_id]
    response = api.request("PATCH", path, json={"name": "crm renamed", "description": "new"})
    assert response.status_code == 200
    assert response.json() == [f"@/dataSets/{dataset_id}"]
    after = api.request("GET", path).json()[dataset_id]
    assert (after["name"], after["description"]) == ("crm renamed", "new")
    assert after["version"] == "1.0.1"
    assert after["updated"] >= before["updated"]
    assert after["schemaRef"] == before["schemaRef"]
    assert _names(api, name="crm renamed") == ["crm renamed"]
    assert _names(api, name="crm ds") == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({}, "CAT-1001"),
        ({"name": ""}, "CAT-1001"),
        ({"schemaRef": {"id": "https://ns.adobe.com/x/schemas/0"}}, "CAT-1002"),
    ],
)
def test_a_bad_patch_is_refused(
    api: PlatformApi, schema_id: str, change: dict[str, Any], code: str
) -> None:
    dataset_id = api.create_dataset("crm ds", schema_id)
    response = api.request("PATCH", f"{CATALOG}/dataSets/{dataset_id}", json=change)
    assert_platform_error(response, 400, code)


def test_a_json_patch_changes_writable_fields_and_no_others(
    api: PlatformApi, schema_id: str
) -> None:
    dataset_id = api.create_dataset("crm ds", schema_id)
    path = f"{CATALOG}/dataSets/{dataset_id}"
    patch = [
        {"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true"]},
        {"op": "add", "path": "/description", "value": "patched"},
    ]
    headers = {"Content-Type": "application/json-patch+json"}
    response = api.request("PATCH", path, content=json.dumps(patch).encode(), headers=headers)
    assert response.status_code == 200, response.text
    after = api.request("GET", path).json()[dataset_id]
    assert after["tags"] == {"unifiedProfile": ["enabled:true"]}
    assert (after["description"], after["version"]) == ("patched", "1.0.1")
    for refused in ("/created", "/imsOrg", "/nosuchfield"):
        bad = [{"op": "replace", "path": refused, "value": 1}]
        assert_platform_error(api.request("PATCH", path, json=bad), 400, "CAT-1001")


def test_the_tags_filter_finds_profile_enabled_datasets(api: PlatformApi, schema_id: str) -> None:
    tagged = {
        **dataset_body("crm profile", schema_id),
        "tags": {"unifiedProfile": ["enabled:true"]},
    }
    api.request("POST", f"{CATALOG}/dataSets", json=tagged)
    api.create_dataset("crm plain", schema_id)
    assert _names(api, tags="unifiedProfile:enabled:true") == ["crm profile"]
    assert _names(api, tags="unifiedProfile:*") == ["crm profile"]
    assert_platform_error(
        api.request("GET", f"{CATALOG}/dataSets", params={"tags": "nocolon"}), 400, "CAT-1003"
    )


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("POST", f"{CATALOG}/dataSets", "CAT-1001"),
        ("PATCH", f"{CATALOG}/dataSets/5f0e2b1c9a8b7c6d5e4f3a2b", "CAT-1001"),
        ("POST", f"{CONVERSION}/mappingSets", "DP-1001"),
        ("POST", f"{REGISTRY}/tenant/schemas", "XDM-1000"),
        ("POST", f"{REGISTRY}/tenant/fieldgroups", "XDM-1000"),
    ],
)
def test_a_body_that_is_not_json_is_refused_with_the_services_own_400(
    api: PlatformApi, method: str, path: str, code: str
) -> None:
    headers = {"Content-Type": "application/json"}
    response = api.request(method, path, content=b"{not json", headers=headers)
    body = assert_platform_error(response, 400, code)
    assert body["detail"] == "The request body is not valid JSON"

"""Schema Registry over HTTP: tenant schemas and field groups, lookups, lists, stats, errors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.registry_support import (
    EXPERIENCE_EVENT,
    LIST_IDS,
    LOOKUP,
    PERSON_DETAILS,
    PERSONAL_DETAILS,
    PROFILE,
    REGISTRY,
    WORK_DETAILS,
    PlatformApi,
    api,
    assert_platform_error,
    emulator,
    field_group_body,
    schema_body,
)

__all__ = ["api", "emulator"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration

ORDER_FIELDS = {
    "orderId": {"type": "string"},
    "placedAt": {"type": "string", "format": "date-time"},
}
FULL = "application/vnd.adobe.xed-full+json; version=1"


def test_stats_name_the_org_and_its_tenant_id(api: PlatformApi) -> None:
    response = api.request("GET", f"{REGISTRY}/stats")
    assert response.status_code == 200
    body = response.json()
    assert body["imsOrg"] == api.org
    assert body["tenantId"] == api.tenant
    assert body["counts"]["schemas"] == 0
    assert body["counts"]["classes"] >= 2
    assert body["classUsage"] == []


def test_stats_count_schemas_per_class(api: PlatformApi) -> None:
    first = api.create_schema("crm one", PROFILE)
    second = api.create_schema("crm two", PROFILE, PERSON_DETAILS)
    body = api.request("GET", f"{REGISTRY}/stats").json()
    assert body["counts"]["schemas"] == 2
    assert body["classUsage"] == [
        {
            "$id": PROFILE,
            "title": "XDM Individual Profile",
            "numberOfSchemas": 2,
            "schemas": [
                {"$id": first["$id"], "title": "crm one"},
                {"$id": second["$id"], "title": "crm two"},
            ],
        }
    ]


def test_a_created_schema_comes_back_whole(api: PlatformApi) -> None:
    schema = api.create_schema("crm people", PROFILE, PERSON_DETAILS)
    match = re.fullmatch(rf"https://ns\.adobe\.com/{api.tenant}/schemas/([0-9a-f]+)", schema["$id"])
    assert match is not None
    assert schema["meta:altId"] == f"_{api.tenant}.schemas.{match[1]}"
    assert schema["version"] == "1.0"
    assert schema["meta:resourceType"] == "schemas"
    assert schema["meta:class"] == PROFILE
    assert schema["meta:containerId"] == "tenant"
    assert schema["meta:tenantNamespace"] == f"_{api.tenant}"
    assert schema["imsOrg"] == api.org
    assert schema["refs"] == [PROFILE, PERSON_DETAILS]
    assert schema["allOf"][0] == {"$ref": PROFILE, "type": "object", "meta:xdmType": "object"}
    assert {PROFILE, PERSON_DETAILS, "https://ns.adobe.com/xdm/data/record"} <= set(
        schema["meta:extends"]
    )
    metadata = schema["meta:registryMetadata"]
    assert {"repo:createdDate", "repo:lastModifiedDate", "eTag", "xdm:createdClientId"} <= set(
        metadata
    )


def test_a_field_group_keeps_its_fields_under_the_tenant_namespace(api: PlatformApi) -> None:
    body = field_group_body(api.tenant, "crm order fields", ORDER_FIELDS)
    response = api.request("POST", f"{REGISTRY}/tenant/fieldgroups", json=body)
    assert response.status_code == 201
    group = response.json()
    assert group["$id"].startswith(f"https://ns.adobe.com/{api.tenant}/mixins/")
    assert group["meta:altId"].startswith(f"_{api.tenant}.mixins.")
    assert group["meta:intendedToExtend"] == [PROFILE]
    assert group["definitions"] == body["definitions"]
    assert group["version"] == "1.0"


def test_a_full_lookup_shows_standard_and_tenant_fields(api: PlatformApi) -> None:
    group = api.create_field_group("crm order fields", ORDER_FIELDS)
    schema = api.create_schema("crm orders", PROFILE, PERSON_DETAILS, group)
    response = api.lookup(
        "schemas", schema["$id"], "application/vnd.adobe.xed-full+json; version=1"
    )
    assert response.status_code == 200
    properties = response.json()["properties"]
    assert properties["person"]["properties"]["name"]["properties"]["fullName"]["type"] == "string"
    assert properties["person"]["properties"]["birthDate"]["format"] == "date"
    tenant_fields = properties[f"_{api.tenant}"]["properties"]
    assert tenant_fields["placedAt"] == {"type": "string", "format": "date-time"}


@pytest.mark.parametrize("by", ["$id", "meta:altId"])
def test_a_schema_is_found_by_its_id_or_alt_id(api: PlatformApi, by: str) -> None:
    schema = api.create_schema("crm people", PROFILE)
    response = api.lookup("schemas", schema[by])
    assert response.status_code == 200
    assert response.json() == schema


def test_titles_are_unique_across_schemas_and_field_groups(api: PlatformApi) -> None:
    api.create_field_group("crm shared title", ORDER_FIELDS)
    response = api.request(
        "POST", f"{REGISTRY}/tenant/schemas", json=schema_body("crm shared title", PROFILE)
    )
    body = assert_platform_error(response, 400, "XDM-1521")
    assert body["title"] == "Title not unique"
    assert "already exists with the same title" in body["detail"]


def test_a_second_schema_with_the_same_title_is_refused(api: PlatformApi) -> None:
    api.create_schema("crm twice", PROFILE)
    response = api.request(
        "POST", f"{REGISTRY}/tenant/schemas", json=schema_body("crm twice", PROFILE)
    )
    assert_platform_error(response, 400, "XDM-1521")


def test_the_same_title_is_free_in_another_org(api: PlatformApi) -> None:
    api.create_schema("crm elsewhere", PROFILE)
    other = PlatformApi(api.emulator, "OTHER" + api.org)
    try:
        other.create_schema("crm elsewhere", PROFILE)
    finally:
        other.close()


@pytest.mark.parametrize(
    ("refs", "code"),
    [
        ((), "XDM-1000"),
        ((PERSON_DETAILS,), "XDM-1302"),
        ((PROFILE, EXPERIENCE_EVENT), "XDM-1302"),
        ((PROFILE, "https://ns.adobe.com/xdm/context/no-such-group"), "XDM-1301"),
        ((EXPERIENCE_EVENT, WORK_DETAILS), "XDM-1303"),
    ],
)
def test_a_schema_must_compose_one_class_with_fitting_field_groups(
    api: PlatformApi, refs: tuple[str, ...], code: str
) -> None:
    response = api.request("POST", f"{REGISTRY}/tenant/schemas", json=schema_body("bad", *refs))
    assert_platform_error(response, 400, code)


@pytest.mark.parametrize(
    "body",
    [
        ["not", "an", "object"],
        {"type": "object", "allOf": [{"$ref": PROFILE}]},
        {"type": "object", "title": "x", "allOf": ["not an object"]},
        {"type": "array", "title": "x", "allOf": [{"$ref": PROFILE}]},
    ],
)
def test_a_malformed_schema_body_is_refused(api: PlatformApi, body: Any) -> None:
    response = api.request("POST", f"{REGISTRY}/tenant/schemas", json=body)
    assert_platform_error(response, 400, "XDM-1000")


def test_custom_fields_outside_the_tenant_namespace_are_refused(api: PlatformApi) -> None:
    body = field_group_body(api.tenant, "crm stray", ORDER_FIELDS)
    body["definitions"]["customFields"]["properties"] = {"orderId": {"type": "string"}}
    response = api.request("POST", f"{REGISTRY}/tenant/fieldgroups", json=body)
    assert_platform_error(response, 400, "XDM-1020")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"definitions": None}, "XDM-1000"),
        ({"definitions": {"f": {"properties": {"_x": {"type": 7}}}}}, "XDM-1000"),
        ({"meta:intendedToExtend": "profile"}, "XDM-1000"),
        ({"meta:intendedToExtend": ["https://ns.adobe.com/xdm/context/nothing"]}, "XDM-1301"),
    ],
)
def test_a_malformed_field_group_is_refused(
    api: PlatformApi, change: dict[str, Any], code: str
) -> None:
    body = {**field_group_body(api.tenant, "crm bad group", ORDER_FIELDS), **change}
    response = api.request("POST", f"{REGISTRY}/tenant/fieldgroups", json=body)
    assert_platform_error(response, 400, code)


@pytest.mark.parametrize(
    "accept",
    [None, "application/vnd.adobe.xed+json", "application/json", "*/*"],
)
def test_a_lookup_needs_a_versioned_accept_header(api: PlatformApi, accept: str | None) -> None:
    schema = api.create_schema("crm people", PROFILE)
    headers = {"Accept": accept} if accept else {"Accept": ""}
    response = api.request(
        "GET", f"{REGISTRY}/tenant/schemas/{schema['meta:altId']}", headers=headers
    )
    body = assert_platform_error(response, 400, "XDM-1007")
    assert body["title"] == "Accept header invalid"


def test_a_lookup_of_an_unknown_schema_is_not_found(api: PlatformApi) -> None:
    response = api.lookup("schemas", f"https://ns.adobe.com/{api.tenant}/schemas/0000")
    body = assert_platform_error(response, 404, "XDM-1012")
    assert "is not found" in body["detail"]


def test_a_lookup_of_a_version_that_does_not_exist_is_not_found(api: PlatformApi) -> None:
    schema = api.create_schema("crm people", PROFILE)
    response = api.lookup("schemas", schema["$id"], "application/vnd.adobe.xed+json; version=2")
    assert_platform_error(response, 404, "XDM-1012")


def test_standard_classes_and_field_groups_are_found_in_the_global_container(
    api: PlatformApi,
) -> None:
    cls = api.request("GET", f"{REGISTRY}/global/classes/_xdm.context.profile", accept=LOOKUP)
    assert cls.status_code == 200
    assert cls.json()["$id"] == PROFILE
    group = api.request(
        "GET", f"{REGISTRY}/global/fieldgroups/_xdm.context.profile-personal-details", accept=LOOKUP
    )
    assert group.status_code == 200
    assert group.json()["$id"] == PERSONAL_DETAILS
    assert PROFILE in group.json()["meta:intendedToExtend"]


def test_a_global_list_filters_field_groups_by_the_class_they_extend(api: PlatformApi) -> None:
    response = api.request(
        "GET",
        f"{REGISTRY}/global/fieldgroups",
        accept="application/vnd.adobe.xed+json",
        params={"property": f"meta:intendedToExtend=={EXPERIENCE_EVENT}"},
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert results
    assert all(EXPERIENCE_EVENT in item["meta:intendedToExtend"] for item in results)
    assert WORK_DETAILS not in {item["$id"] for item in results}


def test_a_summary_list_finds_a_schema_by_exact_title(api: PlatformApi) -> None:
    wanted = api.create_schema("crm orders (schema) [r-1]", PROFILE)
    api.create_schema("crm orders (schema) [r-2]", PROFILE)
    response = api.request(
        "GET",
        f"{REGISTRY}/tenant/schemas",
        accept=LIST_IDS,
        params={"property": "title==crm orders (schema) [r-1]", "orderby": "title"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [
        {
            "$id": wanted["$id"],
            "meta:altId": wanted["meta:altId"],
            "version": "1.0",
            "title": "crm orders (schema) [r-1]",
        }
    ]
    assert body["_page"] == {"orderby": "title", "next": None, "count": 1}
    assert body["_links"]["next"] is None
    assert body["_links"]["global_schemas"]["href"].endswith(f"{REGISTRY}/global/schemas")


def test_a_title_filter_keeps_commas_inside_the_title(api: PlatformApi) -> None:
    api.create_schema("crm a, b", PROFILE)
    response = api.request(
        "GET", f"{REGISTRY}/tenant/schemas", accept=LIST_IDS, params={"property": "title==crm a, b"}
    )
    assert [item["title"] for item in response.json()["results"]] == ["crm a, b"]


def test_a_list_needs_an_unversioned_accept_header(api: PlatformApi) -> None:
    response = api.request("GET", f"{REGISTRY}/tenant/schemas", accept=LOOKUP)
    body = assert_platform_error(response, 400, "XDM-1006")
    assert body["title"] == "Accept header invalid"


def test_a_full_list_returns_whole_documents_in_the_requested_order(api: PlatformApi) -> None:
    for title in ("crm b", "crm c", "crm a"):
        api.create_schema(title, PROFILE)
    response = api.request(
        "GET",
        f"{REGISTRY}/tenant/schemas",
        accept="application/vnd.adobe.xed+json",
        params={"orderby": "-title"},
    )
    results = response.json()["results"]
    assert [item["title"] for item in results] == ["crm c", "crm b", "crm a"]
    assert all(item["meta:class"] == PROFILE for item in results)


def test_lists_page_with_start_and_limit(api: PlatformApi) -> None:
    titles = [f"crm page {i}" for i in range(5)]
    for title in titles:
        api.create_schema(title, PROFILE)
    seen: list[str] = []
    params: dict[str, Any] = {"orderby": "title", "limit": 2}
    pages = 0
    while True:
        response = api.request("GET", f"{REGISTRY}/tenant/schemas", accept=LIST_IDS, params=params)
        body = response.json()
        seen.extend(item["title"] for item in body["results"])
        pages += 1
        if body["_page"]["next"] is None:
            assert body["_links"]["next"] is None
            break
        assert "start=" in body["_links"]["next"]
        params["start"] = body["_page"]["next"]
    assert seen == titles
    assert pages == 3


def test_a_list_page_holds_at_most_300_results(api: PlatformApi) -> None:
    for i in range(301):
        api.create_field_group(f"crm group {i:03d}", {f"f{i}": {"type": "string"}})
    response = api.request(
        "GET", f"{REGISTRY}/tenant/fieldgroups", accept=LIST_IDS, params={"limit": 500}
    )
    body = response.json()
    assert body["_page"]["count"] == 300
    assert body["_page"]["next"] == "300"
    rest = api.request(
        "GET", f"{REGISTRY}/tenant/fieldgroups", accept=LIST_IDS, params={"start": 300}
    )
    assert rest.json()["results"][0]["title"] == "crm group 300"


@pytest.mark.parametrize(
    "params",
    [{"property": "title"}, {"limit": "many"}, {"orderby": "ti tle"}, {"property": "title~("}],
)
def test_a_bad_list_query_is_refused(api: PlatformApi, params: dict[str, str]) -> None:
    response = api.request("GET", f"{REGISTRY}/tenant/schemas", accept=LIST_IDS, params=params)
    assert_platform_error(response, 400, "XDM-1400")


@pytest.mark.parametrize("kind", ["schemas", "fieldgroups"])
def test_a_deleted_resource_is_gone(api: PlatformApi, kind: str) -> None:
    if kind == "schemas":
        resource_id = api.create_schema("crm doomed", PROFILE)["$id"]
    else:
        resource_id = api.create_field_group("crm doomed", ORDER_FIELDS)
    path = f"{REGISTRY}/tenant/{kind}/{resource_id.replace('/', '%2F').replace(':', '%3A')}"
    deleted = api.request("DELETE", path)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_platform_error(api.lookup(kind, resource_id), 404, "XDM-1012")
    assert_platform_error(api.request("DELETE", path), 404, "XDM-1012")
    api.create_schema("crm doomed", PROFILE)  # the title is free again


def test_the_legacy_mixins_paths_serve_field_groups(api: PlatformApi) -> None:
    body = field_group_body(api.tenant, "crm legacy group", ORDER_FIELDS)
    created = api.request("POST", f"{REGISTRY}/tenant/mixins", json=body)
    assert created.status_code == 201
    group = created.json()
    assert api.lookup("mixins", group["meta:altId"]).json() == group
    standard = api.request(
        "GET", f"{REGISTRY}/global/mixins/_xdm.context.profile-person-details", accept=LOOKUP
    )
    assert standard.json()["$id"] == PERSON_DETAILS


def test_a_class_is_not_found_under_field_groups(api: PlatformApi) -> None:
    response = api.request(
        "GET", f"{REGISTRY}/global/fieldgroups/_xdm.context.profile", accept=LOOKUP
    )
    assert_platform_error(response, 404, "XDM-1012")


def test_the_global_classes_list_has_profile_and_experience_event(api: PlatformApi) -> None:
    response = api.request("GET", f"{REGISTRY}/global/classes", accept=LIST_IDS)
    assert {PROFILE, EXPERIENCE_EVENT} <= {item["$id"] for item in response.json()["results"]}


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("global/fieldgroups/_xdm.context.profile-personal-details", "personalEmail"),
        ("global/classes/_xdm.context.experienceevent", "timestamp"),
    ],
)
def test_a_full_lookup_of_a_standard_resource_shows_its_fields(
    api: PlatformApi, path: str, field: str
) -> None:
    response = api.request("GET", f"{REGISTRY}/{path}", accept=FULL)
    assert field in response.json()["properties"]


def test_a_full_lookup_of_a_tenant_field_group_shows_its_fields(api: PlatformApi) -> None:
    group = api.create_field_group("crm order fields", ORDER_FIELDS)
    response = api.lookup("fieldgroups", group, FULL)
    tenant = response.json()["properties"][f"_{api.tenant}"]
    assert set(tenant["properties"]) == set(ORDER_FIELDS)


@pytest.mark.parametrize("path", ["sideways/schemas", "tenant/unicorns", "global/unicorns/x"])
def test_an_unknown_container_or_kind_is_not_found(api: PlatformApi, path: str) -> None:
    response = api.request("GET", f"{REGISTRY}/{path}", accept=LIST_IDS)
    assert_platform_error(response, 404, "XDM-1012")

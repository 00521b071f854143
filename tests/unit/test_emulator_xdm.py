"""The XDM catalogue: standard field paths, tenant field groups, destination checks."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.xdm import (
    EXPERIENCE_EVENT_CLASS,
    PROFILE_CLASS,
    NamespaceError,
    SchemaDefinitionError,
    flatten,
    global_alt_id,
    missing_destinations,
    normalize_path,
    platform_name,
    standard_catalogue,
    tenant_field_paths,
)

PERSON_DETAILS = "https://ns.adobe.com/xdm/context/profile-person-details"
PERSONAL_DETAILS = "https://ns.adobe.com/xdm/context/profile-personal-details"
WORK_DETAILS = "https://ns.adobe.com/xdm/context/profile-work-details"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("xdm:person", ["person"]),
        ("@id", ["_id"]),
        ("repo:createDate", ["_repo", "createDate"]),
        ("schema:latitude", ["_schema", "latitude"]),
        ("plain", ["plain"]),
    ],
)
def test_raw_xdm_names_are_shown_as_the_platform_shows_them(raw: str, shown: list[str]) -> None:
    assert platform_name(raw) == shown


@pytest.mark.parametrize(
    ("resource_id", "alt_id"),
    [
        (PROFILE_CLASS, "_xdm.context.profile"),
        (PERSON_DETAILS, "_xdm.context.profile-person-details"),
        ("https://ns.adobe.com/xdm/mixins/profile-consents", "_xdm.mixins.profile-consents"),
    ],
)
def test_a_global_resource_alt_id_is_its_path_with_dots(resource_id: str, alt_id: str) -> None:
    assert global_alt_id(resource_id) == alt_id


@pytest.mark.parametrize(
    ("resource_id", "path", "kind"),
    [
        (PROFILE_CLASS, "_id", "string"),
        (PROFILE_CLASS, "_repo.createDate", "date-time"),
        (EXPERIENCE_EVENT_CLASS, "timestamp", "date-time"),
        (EXPERIENCE_EVENT_CLASS, "eventType", "string"),
        (PERSON_DETAILS, "person.name.fullName", "string"),
        (PERSON_DETAILS, "person.birthDate", "date"),
        (PERSON_DETAILS, "person.name", "object"),
        (PERSONAL_DETAILS, "personalEmail.address", "string"),
        (PERSONAL_DETAILS, "homeAddress.city", "string"),
        (WORK_DETAILS, "workEmail.address", "string"),
        (WORK_DETAILS, "organizations", "array"),
    ],
)
def test_the_catalogue_knows_the_platform_field_paths(
    resource_id: str, path: str, kind: str
) -> None:
    resource = standard_catalogue().find(resource_id)
    assert resource is not None
    assert resource.fields[path] == kind


def test_a_standard_resource_is_found_by_its_alt_id() -> None:
    found = standard_catalogue().find("_xdm.context.profile-person-details")
    assert found is not None
    assert found.id == PERSON_DETAILS
    assert found.kind == "fieldgroup"


def test_an_unknown_resource_is_not_found() -> None:
    assert standard_catalogue().find("https://ns.adobe.com/xdm/context/nothing") is None


def test_field_groups_declare_the_classes_they_extend() -> None:
    work = standard_catalogue().field_groups[WORK_DETAILS]
    assert PROFILE_CLASS in work.intended_to_extend
    assert EXPERIENCE_EVENT_CLASS not in work.intended_to_extend


def test_arrays_of_objects_expose_their_item_fields_under_the_array_path() -> None:
    tree: dict[str, Any] = {"items": [{"sku": "string", "qty": "integer"}], "tags": ["string"]}
    assert flatten(tree) == {
        "items": "array",
        "items.sku": "string",
        "items.qty": "integer",
        "tags": "array",
    }


@pytest.mark.parametrize(
    ("destination", "normalized"),
    [
        ("person.name.fullName", "person.name.fullName"),
        ("items[0].sku", "items.sku"),
        ("items[*].sku", "items.sku"),
        ("items[].sku", "items.sku"),
        (" _id ", "_id"),
    ],
)
def test_destinations_are_compared_without_array_indices(destination: str, normalized: str) -> None:
    assert normalize_path(destination) == normalized


def _field_group_body(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "definitions": {"customFields": {"properties": properties}},
        "allOf": [{"$ref": "#/definitions/customFields"}],
    }


def test_a_tenant_field_group_defines_paths_under_the_tenant_namespace() -> None:
    body = _field_group_body(
        {
            "_acme": {
                "type": "object",
                "properties": {
                    "crm": {
                        "type": "object",
                        "properties": {
                            "orderId": {"type": "string"},
                            "placedAt": {"type": "string", "format": "date-time"},
                            "total": {"type": "number"},
                            "attributes": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                            "lines": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {"sku": {"type": "string"}},
                                },
                            },
                        },
                    }
                },
            }
        }
    )
    assert tenant_field_paths(body, "acme") == {
        "_acme": "object",
        "_acme.crm": "object",
        "_acme.crm.orderId": "string",
        "_acme.crm.placedAt": "date-time",
        "_acme.crm.total": "number",
        "_acme.crm.attributes": "map",
        "_acme.crm.lines": "array",
        "_acme.crm.lines.sku": "string",
    }


def test_a_tenant_field_outside_the_tenant_namespace_is_refused() -> None:
    body = _field_group_body({"orderId": {"type": "string"}})
    with pytest.raises(NamespaceError, match="_acme"):
        tenant_field_paths(body, "acme")


@pytest.mark.parametrize(
    "body",
    [
        {"definitions": []},
        {"definitions": {"x": "not an object"}},
        {"definitions": {"x": {"properties": []}}},
        {"definitions": {"x": {"properties": {"_acme": {"type": ["object"]}}}}},
    ],
)
def test_malformed_tenant_definitions_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(SchemaDefinitionError):
        tenant_field_paths(body, "acme")


def test_missing_destinations_lists_each_unknown_path_once_in_order() -> None:
    fields = {"_id": "string", "person.name.fullName": "string", "items.sku": "string"}
    destinations = ["_id", "nope.b", "items[0].sku", "nope.a", "nope.b"]
    assert missing_destinations(fields, destinations) == ["nope.b", "nope.a"]


@pytest.mark.parametrize(
    ("destination", "exists"),
    [
        ("identityMap", True),
        ("identityMap.ECID", True),
        ("identityMap.ECID[0].id", True),
        ("identityMapper", False),
    ],
)
def test_any_path_below_a_map_field_exists(destination: str, exists: bool) -> None:
    fields = {"identityMap": "map"}
    assert (missing_destinations(fields, [destination]) == []) is exists

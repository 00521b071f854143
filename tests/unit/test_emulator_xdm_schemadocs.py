"""Composing schemas and shaping registry documents (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.schemadocs import (
    Composition,
    CompositionError,
    compose_schema,
    field_group_document,
    global_document,
    properties_of_fields,
    schema_document,
    schema_fields_from,
    strip_internal,
)
from emulator.xdm import EXPERIENCE_EVENT_CLASS, PROFILE_CLASS, standard_catalogue

PERSON_DETAILS = "https://ns.adobe.com/xdm/context/profile-person-details"

PERSON = "https://ns.adobe.com/xdm/context/profile-person-details"
WORK = "https://ns.adobe.com/xdm/context/profile-work-details"
TENANT_GROUP = "https://ns.adobe.com/acme/mixins/1"
CONTEXT = Composition("acme", "ACME@AdobeOrg", "dev", "client", "client@AdobeID", 1000)
GROUP_BODY: dict[str, Any] = {
    "title": "crm",
    "meta:intendedToExtend": [PROFILE_CLASS],
    "definitions": {
        "f": {"properties": {"_acme": {"type": "object", "properties": {"x": {"type": "integer"}}}}}
    },
}


def _find(ref: str) -> dict[str, Any] | None:
    if ref == TENANT_GROUP:
        return {"$id": TENANT_GROUP, "meta:intendedToExtend": [PROFILE_CLASS], **GROUP_BODY}
    return None


def _body(*refs: str) -> dict[str, Any]:
    return {"title": "s", "type": "object", "allOf": [{"$ref": r} for r in refs]}


@pytest.mark.parametrize(
    ("refs", "code"),
    [
        ((), 1000),
        ((PERSON,), 1302),
        ((PROFILE_CLASS, EXPERIENCE_EVENT_CLASS), 1302),
        ((PROFILE_CLASS, "https://ns.adobe.com/acme/mixins/404"), 1301),
        ((EXPERIENCE_EVENT_CLASS, WORK), 1303),
        ((EXPERIENCE_EVENT_CLASS, TENANT_GROUP), 1303),
    ],
)
def test_a_schema_composes_exactly_one_class_with_fitting_groups(
    refs: tuple[str, ...], code: int
) -> None:
    with pytest.raises(CompositionError) as caught:
        compose_schema(_body(*refs), standard_catalogue(), _find)
    assert caught.value.code == code


def test_a_composed_schema_document_has_the_registry_shape() -> None:
    parts = compose_schema(_body(PROFILE_CLASS, PERSON, TENANT_GROUP), standard_catalogue(), _find)
    document = schema_document(_body(), parts, CONTEXT, "ab12")
    assert document["$id"] == "https://ns.adobe.com/acme/schemas/ab12"
    assert document["meta:altId"] == "_acme.schemas.ab12"
    assert document["refs"] == [PROFILE_CLASS, PERSON, TENANT_GROUP]
    assert document["meta:sandboxType"] == "development"
    assert document["meta:registryMetadata"]["repo:createdDate"] == 1000
    assert "id" not in strip_internal(document)
    fields = schema_fields_from(document, _find, "acme")
    assert fields["person.name.fullName"] == "string"
    assert fields["_acme.x"] == "integer"


def test_a_field_group_document_gets_mixin_ids_and_default_all_of() -> None:
    document = field_group_document(GROUP_BODY, CONTEXT, "cd34")
    assert document["$id"] == "https://ns.adobe.com/acme/mixins/cd34"
    assert document["meta:altId"] == "_acme.mixins.cd34"
    assert document["allOf"] == [
        {"$ref": "#/definitions/f", "type": "object", "meta:xdmType": "object"}
    ]


def test_properties_nest_paths_with_json_schema_types() -> None:
    fields = {
        "person": "object",
        "person.birthDate": "date",
        "tags": "array",
        "items": "array",
        "items.sku": "string",
        "identityMap": "map",
    }
    assert properties_of_fields(fields) == {
        "person": {
            "type": "object",
            "properties": {"birthDate": {"type": "string", "format": "date"}},
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"sku": {"type": "string"}}},
        },
        "identityMap": {"type": "object", "meta:xdmType": "map"},
    }


def test_a_standard_field_groups_document_is_whole_with_its_fields_and_usage() -> None:
    group = standard_catalogue().field_groups[PERSON_DETAILS]
    document = global_document(group, usage_count=3)
    name = "profile-person-details"
    assert document["allOf"] == [
        {"$ref": f"#/definitions/{name}", "type": "object", "meta:xdmType": "object"}
    ]
    person = document["definitions"][name]["properties"]["person"]
    assert person["properties"]["name"]["properties"]["firstName"] == {"type": "string"}
    assert document["meta:registryMetadata"]["meta:usageCount"] == 3
    assert document["meta:intendedToExtend"] == list(group.intended_to_extend)
    assert isinstance(document["meta:createdDate"], str)


def test_a_standard_class_document_extends_its_behaviour_and_has_no_usage_count() -> None:
    document = global_document(standard_catalogue().classes[PROFILE_CLASS])
    refs = [part["$ref"] for part in document["allOf"]]
    assert refs[-1] == "#/definitions/profile"
    assert "https://ns.adobe.com/xdm/data/record" in refs
    assert document["meta:extends"] == refs[:-1]
    assert "meta:usageCount" not in document["meta:registryMetadata"]
    assert "_id" in document["definitions"]["profile"]["properties"]

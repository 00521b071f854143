"""Schema Registry answers conform to the definitions of Adobe's schema-registry.yaml.

The document is Swagger 2.0, which openapi-core does not read, so each answer is validated with
jsonschema (draft 4, as Swagger 2.0 uses) against the definition its operation names, in the
document as ``adobe_specs`` adjusts it (Swagger 2.0 has no ``nullable``, and the list
definitions type ``_page.next`` and ``_links.next`` as strings while their examples show null
on the last page).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.adobe_specs import require, schema_errors
from tests.integration.registry_support import (
    LIST_IDS,
    LOOKUP,
    PERSON_DETAILS,
    PROFILE,
    REGISTRY,
    PlatformApi,
    api,
    emulator,
    field_group_body,
)

__all__ = ["api", "emulator"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration


def unexplained(name: str, instance: Any) -> list[str]:
    """How an answer breaks a definition of the (adjusted) document."""
    require("schema-registry.yaml")
    return schema_errors("schema-registry.yaml", {"$ref": f"#/definitions/{name}"}, instance)


def test_created_schemas_and_field_groups_match_their_definitions(api: PlatformApi) -> None:
    body = field_group_body(api.tenant, "crm fields", {"tier": {"type": "string"}})
    group = api.request("POST", f"{REGISTRY}/tenant/fieldgroups", json=body).json()
    schema = api.create_schema("crm people", PROFILE, PERSON_DETAILS, group["$id"])
    assert unexplained("createFieldGroupResponse", group) == []
    assert unexplained("createSchemaResponse", schema) == []
    looked_up = api.lookup("schemas", schema["$id"], LOOKUP).json()
    assert unexplained("createSchemaResponse", looked_up) == []


def test_lists_and_stats_match_their_definitions(api: PlatformApi) -> None:
    for title in ("crm a", "crm b", "crm c"):
        api.create_schema(title, PROFILE)
    first = api.request("GET", f"{REGISTRY}/tenant/schemas", accept=LIST_IDS, params={"limit": 2})
    last = api.request("GET", f"{REGISTRY}/tenant/schemas", accept=LIST_IDS, params={"start": 2})
    stats = api.request("GET", f"{REGISTRY}/stats")
    assert unexplained("listSchemasResponse", first.json()) == []
    assert unexplained("listSchemasResponse", last.json()) == []
    assert unexplained("statsResponse", stats.json()) == []


def test_errors_match_the_error_definitions(api: PlatformApi) -> None:
    wrong_accept = api.request("GET", f"{REGISTRY}/tenant/schemas", accept=LOOKUP)
    missing = api.lookup("schemas", f"https://ns.adobe.com/{api.tenant}/schemas/0")
    assert unexplained("acceptErrorList", wrong_accept.json()) == []
    assert unexplained("errorBasic", missing.json()) == []

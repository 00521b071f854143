"""Schema Registry answers conform to the definitions of Adobe's schema-registry.yaml.

The document is Swagger 2.0, which openapi-core does not read, so each answer is validated with
jsonschema (draft 4, as Swagger 2.0 uses) against the definition its operation names. Swagger
2.0 has no ``nullable``: the list definitions type ``_page.next`` and ``_links.next`` as strings
while describing them as null on the last page, which the emulator follows (``KNOWN``).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jsonschema
import pytest
import yaml

from tests.integration.registry_support import (
    LIST_IDS,
    LOOKUP,
    PERSON_DETAILS,
    PROFILE,
    REFERENCE,
    REGISTRY,
    PlatformApi,
    api,
    emulator,
    field_group_body,
)

__all__ = ["api", "emulator"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration

KNOWN = (re.compile(r"^_(page|links)/next: None is not of type 'string'$"),)


@cache
def _definitions() -> dict[str, Any]:
    path = REFERENCE / "adobe-openapi" / "schema-registry.yaml"
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    definitions: dict[str, Any] = document["definitions"]
    return definitions


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    """The document's definitions (skips when the reference is absent)."""
    if not (REFERENCE / "adobe-openapi" / "schema-registry.yaml").is_file():
        pytest.skip(f"Adobe's OpenAPI specs are not at {REFERENCE} (shared/reference is absent)")
    return _definitions()


def unexplained(definitions: dict[str, Any], name: str, instance: Any) -> list[str]:
    """How an answer breaks a definition, apart from the document's known contradictions."""
    validator = jsonschema.Draft4Validator(
        {"definitions": definitions, "$ref": f"#/definitions/{name}"}
    )
    lines = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(instance)
    ]
    return [line for line in lines if not any(k.match(line) for k in KNOWN)]


def test_created_schemas_and_field_groups_match_their_definitions(
    api: PlatformApi, definitions: dict[str, Any]
) -> None:
    body = field_group_body(api.tenant, "crm fields", {"tier": {"type": "string"}})
    group = api.request("POST", f"{REGISTRY}/tenant/fieldgroups", json=body).json()
    schema = api.create_schema("crm people", PROFILE, PERSON_DETAILS, group["$id"])
    assert unexplained(definitions, "createFieldGroupResponse", group) == []
    assert unexplained(definitions, "createSchemaResponse", schema) == []
    looked_up = api.lookup("schemas", schema["$id"], LOOKUP).json()
    assert unexplained(definitions, "createSchemaResponse", looked_up) == []


def test_lists_and_stats_match_their_definitions(
    api: PlatformApi, definitions: dict[str, Any]
) -> None:
    for title in ("crm a", "crm b", "crm c"):
        api.create_schema(title, PROFILE)
    first = api.request("GET", f"{REGISTRY}/tenant/schemas", accept=LIST_IDS, params={"limit": 2})
    last = api.request("GET", f"{REGISTRY}/tenant/schemas", accept=LIST_IDS, params={"start": 2})
    stats = api.request("GET", f"{REGISTRY}/stats")
    assert unexplained(definitions, "listSchemasResponse", first.json()) == []
    assert unexplained(definitions, "listSchemasResponse", last.json()) == []
    assert unexplained(definitions, "statsResponse", stats.json()) == []


def test_errors_match_the_error_definitions(api: PlatformApi, definitions: dict[str, Any]) -> None:
    wrong_accept = api.request("GET", f"{REGISTRY}/tenant/schemas", accept=LOOKUP)
    missing = api.lookup("schemas", f"https://ns.adobe.com/{api.tenant}/schemas/0")
    assert unexplained(definitions, "acceptErrorList", wrong_accept.json()) == []
    assert unexplained(definitions, "errorBasic", missing.json()) == []

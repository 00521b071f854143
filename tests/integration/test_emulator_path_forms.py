"""The gateway's path forms: a trailing slash where the real services take one, and only there.

Flow Service and the Schema Registry answer ``/tenant/schemas/`` as ``/tenant/schemas``
(long-lived clients such as aepp send the slash); Catalog and Data Prep document no such form,
so the emulator answers it with the service's 404, never with a redirect.
"""

from __future__ import annotations

import pytest

from emulator.testing import MARIADB_SPEC_ID
from tests.integration.flowservice_support import FS, source_body
from tests.integration.registry_support import (
    CATALOG,
    CONVERSION,
    LIST_IDS,
    LOOKUP,
    PERSON_DETAILS,
    PROFILE,
    REGISTRY,
    PlatformApi,
    api,
    assert_platform_error,
    emulator,
    field_group_body,
    schema_body,
)

__all__ = ["api", "emulator"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration


def test_a_schema_is_created_with_a_slash_ended_collection_path(api: PlatformApi) -> None:
    body = schema_body("crm people", PROFILE, PERSON_DETAILS)
    created = api.request("POST", f"{REGISTRY}/tenant/schemas/", json=body)
    assert created.status_code == 201, created.text
    looked_up = api.lookup("schemas", created.json()["$id"])
    assert looked_up.json()["title"] == "crm people"


def test_a_slash_ended_list_with_a_filter_is_a_list_not_a_lookup(api: PlatformApi) -> None:
    schema_id = api.create_schema("crm leads", PROFILE)["$id"]
    api.create_schema("crm other", PROFILE)
    listed = api.request(
        "GET",
        f"{REGISTRY}/tenant/schemas/",
        accept=LIST_IDS,
        params={"property": "title==crm leads"},
    )
    assert listed.status_code == 200, listed.text
    assert [item["$id"] for item in listed.json()["results"]] == [schema_id]


@pytest.mark.parametrize(
    "path", ["/stats/", "/global/classes/", "/tenant/fieldgroups/", "/global/mixins/"]
)
def test_registry_reads_answer_with_and_without_the_slash_alike(
    api: PlatformApi, path: str
) -> None:
    accept = LIST_IDS if path != "/stats/" else None
    with_slash = api.request("GET", f"{REGISTRY}{path}", accept=accept)
    without = api.request("GET", f"{REGISTRY}{path.rstrip('/')}", accept=accept)
    assert with_slash.status_code == 200, with_slash.text
    assert with_slash.json() == without.json()


def test_a_field_group_is_created_and_deleted_through_slash_ended_paths(api: PlatformApi) -> None:
    body = field_group_body(api.tenant, "crm fields", {"tier": {"type": "string"}})
    created = api.request("POST", f"{REGISTRY}/tenant/fieldgroups/", json=body)
    assert created.status_code == 201, created.text
    alt_id = created.json()["meta:altId"]
    assert api.request("DELETE", f"{REGISTRY}/tenant/fieldgroups/{alt_id}/").status_code == 204
    assert api.lookup("fieldgroups", alt_id, LOOKUP).status_code == 404


def test_flow_service_takes_both_forms_on_collections_and_items(api: PlatformApi) -> None:
    base = api.request(
        "POST",
        f"{FS}/connections/",
        json={
            "name": "crm database",
            "auth": {
                "specName": "Connection String Based Authentication",
                "params": {"connectionString": "Server=db;Database=crm"},
            },
            "connectionSpec": {"id": MARIADB_SPEC_ID, "version": "1.0"},
        },
    )
    assert base.status_code == 201, base.text
    base_id, etag = base.json()["id"], base.json()["etag"]
    source = api.request("POST", f"{FS}/sourceConnections/", json=source_body(base_id))
    assert source.status_code == 201, source.text
    listed = api.request(
        "GET", f"{FS}/sourceConnections/", params={"property": f"id=={source.json()['id']}"}
    )
    assert [item["id"] for item in listed.json()["items"]] == [source.json()["id"]]
    assert api.request("GET", f"{FS}/connections/{base_id}/").json()["items"][0]["id"] == base_id
    patch = [{"op": "replace", "path": "/description", "value": "the CRM"}]
    patched = api.request(
        "PATCH", f"{FS}/connections/{base_id}/", json=patch, headers={"if-match": etag}
    )
    assert patched.status_code == 200, patched.text
    assert (
        api.request("DELETE", f"{FS}/sourceConnections/{source.json()['id']}/").status_code == 204
    )
    assert api.request("DELETE", f"{FS}/connections/{base_id}/").status_code == 204


@pytest.mark.parametrize(
    ("path", "code"),
    [(f"{CATALOG}/dataSets/", "CAT-1000"), (f"{CONVERSION}/mappingSets/", "DP-1000")],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_catalog_and_data_prep_answer_the_slash_form_with_their_404(
    api: PlatformApi, method: str, path: str, code: str
) -> None:
    response = api.request(method, path, json={} if method == "POST" else None)
    assert_platform_error(response, 404, code)
    assert "location" not in response.headers

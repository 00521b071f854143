"""Flow Service over real HTTP: the tutorial's sequence, response shapes, lists, PATCH, DELETE."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from emulator.specs import CRM_TO_AEP_ID, DATA_LAKE_SPEC_ID
from emulator.testing import MARIADB_SPEC_ID, Emulator
from tests.integration.flowservice_support import (
    FS,
    Chain,
    chain,
    created_id,
    emu,
    error_type,
    http,
)

__all__ = ["chain", "emu", "http"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration


def test_the_tutorials_sequence_creates_a_flow_with_the_schedule_typed_as_the_spec_says(
    http: httpx.Client, chain: Chain
) -> None:
    response = http.post(f"{FS}/flows", json=chain.flow_body())
    flow_id = created_id(response)
    assert response.headers["location"].endswith(f"{FS}/flows/{flow_id}")
    assert response.json()["etag"].startswith('"')
    flow = http.get(f"{FS}/flows/{flow_id}").json()["items"][0]
    assert flow["scheduleParams"] == {
        "startTime": 1612310466,
        "frequency": "minute",
        "interval": "15",  # ScheduleSpecDTO types interval as a string
        "backfill": True,
    }
    assert flow["transformations"][1]["params"]["mappingVersion"] == "0"
    assert flow["state"] == "enabled"
    assert flow["runs"] == f"/runs?property=flowId=={flow_id}"
    inherited = flow["inheritedAttributes"]["sourceConnections"][0]
    assert inherited["baseConnection"]["id"] == chain.base_id
    for field in ("createdAt", "updatedAt", "createdBy", "sandboxName", "imsOrgId", "etag"):
        assert field in flow


def test_a_flow_spec_is_found_by_quoted_name_and_by_id(http: httpx.Client) -> None:
    listed = http.get(f"{FS}/flowSpecs", params={"property": 'name=="CRMToAEP"'}).json()
    assert [spec["id"] for spec in listed["items"]] == [CRM_TO_AEP_ID]
    spec = http.get(f"{FS}/flowSpecs/{CRM_TO_AEP_ID}").json()["items"][0]
    for key in ("sourceConnectionSpecIds", "scheduleSpec", "transformationSpec", "runSpec"):
        assert key in spec
    assert MARIADB_SPEC_ID in spec["sourceConnectionSpecIds"]


def test_connection_specs_list_every_source_and_the_data_lake(http: httpx.Client) -> None:
    items = http.get(f"{FS}/connectionSpecs").json()["items"]
    assert len(items) == 38
    one = http.get(f"{FS}/connectionSpecs", params={"property": f"id=={DATA_LAKE_SPEC_ID}"})
    assert [spec["id"] for spec in one.json()["items"]] == [DATA_LAKE_SPEC_ID]
    assert http.get(f"{FS}/connectionSpecs/{MARIADB_SPEC_ID}").json()["items"][0]["authSpec"]


def test_a_base_connection_never_returns_its_secret(emu: Emulator, http: httpx.Client) -> None:
    base_id = emu.create_base_connection(MARIADB_SPEC_ID)
    response = http.get(f"{FS}/connections/{base_id}")
    assert "PWD=" not in response.text
    item = response.json()["items"][0]
    assert item["auth"]["params"]["connectionString"] != ""
    assert item["connectionSpec"]["id"] == MARIADB_SPEC_ID


def test_a_patched_connection_string_is_masked_like_a_created_one(
    emu: Emulator, http: httpx.Client
) -> None:
    base_id = emu.create_base_connection(MARIADB_SPEC_ID)
    etag = http.get(f"{FS}/connections/{base_id}").json()["items"][0]["etag"]
    one_operation = {  # the spec types this body as a single PatchInstruction
        "op": "REPLACE",
        "path": "/auth/params",
        "value": {"connectionString": "Server=db2;UID=u;PWD=s3cret"},
    }
    patched = http.patch(
        f"{FS}/connections/{base_id}", json=one_operation, headers={"if-match": etag}
    )
    assert patched.status_code == 200, patched.text
    response = http.get(f"{FS}/connections/{base_id}")
    assert "s3cret" not in response.text
    assert response.json()["items"][0]["auth"]["params"] == {"connectionString": "<secret>"}


def test_a_missing_resource_is_a_404_in_the_service_shape(http: httpx.Client) -> None:
    response = http.get(f"{FS}/flows/{uuid.uuid4()}")
    assert response.status_code == 404
    assert error_type(response) == "FLOW-1439-404"
    assert response.json()["title"] == "Resource not found"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", f"{FS}/nothing", 404), ("PUT", f"{FS}/flows", 405), ("GET", "/elsewhere", 404)],
)
def test_an_unknown_route_answers_json_in_the_service_shape(
    http: httpx.Client, method: str, path: str, status: int
) -> None:
    response = http.request(method, path)
    assert response.status_code == status
    assert response.json()["type"].endswith(f"FLOW-1000-{status}")


def test_a_body_without_a_json_content_type_is_refused(http: httpx.Client) -> None:
    response = http.post(f"{FS}/flows", content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert response.json()["detail"] == "A valid content-type must be specified"


def test_lists_filter_with_or_and_and_page_with_continuation_tokens(
    emu: Emulator, http: httpx.Client
) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = [emu.create_base_connection(MARIADB_SPEC_ID, name=f"{tag}-{n}") for n in range(5)]
    names = ",".join(f"{tag}-{n}" for n in range(5))
    seen: list[str] = []
    params: dict[str, Any] | None = {"property": f"name=={names}", "limit": 2}
    url = f"{FS}/connections"
    while True:
        page = http.get(url, params=params).json()
        seen.extend(item["id"] for item in page["items"])
        if not page["_links"]:
            break
        href = page["_links"]["next"]["href"]
        assert href.startswith("/connections?")
        url, params = f"{FS}{href}", None
    assert seen == ids
    both = http.get(
        f"{FS}/connections",
        params=[("property", f'name=="{tag}-1",{tag}-3'), ("property", f"id=={ids[3]}")],
    )
    assert [item["id"] for item in both.json()["items"]] == [ids[3]]


def test_count_true_returns_only_the_count_and_refuses_a_limit(
    emu: Emulator, http: httpx.Client
) -> None:
    tag = uuid.uuid4().hex[:8]
    for n in range(3):
        emu.create_base_connection(MARIADB_SPEC_ID, name=f"{tag}-{n}")
    names = ",".join(f"{tag}-{n}" for n in range(3))
    counted = http.get(f"{FS}/connections", params={"property": f"name=={names}", "count": "true"})
    assert counted.json() == {"count": 3}
    refused = http.get(f"{FS}/connections", params={"count": "true", "limit": 1})
    assert (refused.status_code, error_type(refused)) == (400, "FLOW-1401-400")


def test_nested_and_array_filters_find_a_flow(http: httpx.Client, chain: Chain) -> None:
    flow_id = created_id(http.post(f"{FS}/flows", json=chain.flow_body()))
    for expression in (
        f"sourceConnectionIds[]=={chain.source_id}",
        f"inheritedAttributes.sourceConnections.baseConnection.id=={chain.base_id}",
        "scheduleParams.interval==15",
    ):
        found = http.get(
            f"{FS}/flows", params=[("property", expression), ("property", f"id=={flow_id}")]
        )
        assert [f["id"] for f in found.json()["items"]] == [flow_id], expression
    bad = http.get(f"{FS}/flows", params={"property": "name~x"})
    assert error_type(bad) == "FLOW-1440-400"


def test_patch_needs_a_matching_if_match_and_returns_a_new_etag(
    http: httpx.Client, chain: Chain
) -> None:
    created = http.post(f"{FS}/flows", json=chain.flow_body())
    flow_id, etag = created_id(created), created.json()["etag"]
    patch = [{"op": "replace", "path": "/name", "value": "renamed"}]
    missing = http.patch(f"{FS}/flows/{flow_id}", json=patch)
    assert (missing.status_code, error_type(missing)) == (400, "FLOW-1403-400")
    stale = http.patch(f"{FS}/flows/{flow_id}", json=patch, headers={"if-match": '"stale"'})
    assert (stale.status_code, error_type(stale)) == (412, "FLOW-1404-412")
    done = http.patch(f"{FS}/flows/{flow_id}", json=patch, headers={"if-match": etag})
    assert done.status_code == 200
    assert done.json()["id"] == flow_id
    assert done.json()["etag"] != etag
    flow = http.get(f"{FS}/flows/{flow_id}").json()["items"][0]
    assert flow["name"] == "renamed"
    assert flow["etag"] == done.json()["etag"]
    found = http.get(f"{FS}/flows", params={"property": "name==renamed"}).json()["items"]
    assert flow_id in [f["id"] for f in found]


def test_a_flow_is_disabled_and_enabled_by_action(http: httpx.Client, chain: Chain) -> None:
    flow_id = created_id(http.post(f"{FS}/flows", json=chain.flow_body()))
    for op, state in (("DISABLE", "disabled"), ("ENABLE", "enabled")):
        done = http.post(f"{FS}/flows/{flow_id}/action", params={"op": op})
        assert done.status_code == 200
        flow = http.get(f"{FS}/flows/{flow_id}").json()["items"][0]
        assert flow["state"] == state
        assert flow["etag"] == done.json()["etag"]
    refused = http.post(f"{FS}/flows/{flow_id}/action", params={"op": "EXPLODE"})
    assert (refused.status_code, error_type(refused)) == (400, "FLOW-1400-400")


def test_a_patch_that_breaks_the_schedule_is_refused(http: httpx.Client, chain: Chain) -> None:
    created = http.post(f"{FS}/flows", json=chain.flow_body())
    patch = [{"op": "replace", "path": "/scheduleParams/interval", "value": 5}]
    response = http.patch(
        f"{FS}/flows/{created_id(created)}",
        json=patch,
        headers={"if-match": created.json()["etag"]},
    )
    assert (response.status_code, error_type(response)) == (400, "FLOW-1400-400")


def test_delete_answers_204_and_a_base_connection_used_by_a_flow_is_kept(
    http: httpx.Client, chain: Chain
) -> None:
    flow_id = created_id(http.post(f"{FS}/flows", json=chain.flow_body()))
    refused = http.delete(f"{FS}/connections/{chain.base_id}")
    assert (refused.status_code, error_type(refused)) == (400, "FLOW-1418-400")
    deleted = http.delete(f"{FS}/flows/{flow_id}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert http.get(f"{FS}/flows/{flow_id}").status_code == 404
    assert http.delete(f"{FS}/flows/{flow_id}").status_code == 404
    for kind, item_id in (("sourceConnections", chain.source_id), ("connections", chain.base_id)):
        assert http.delete(f"{FS}/{kind}/{item_id}/").status_code == 204


def test_sandboxes_and_orgs_do_not_see_each_others_resources(emu: Emulator) -> None:
    base_id = emu.create_base_connection(MARIADB_SPEC_ID)
    with emu.client("dev") as dev, emu.client(org="OTHER@AdobeOrg") as other:
        assert dev.get(f"{FS}/connections/{base_id}").status_code == 404
        assert other.get(f"{FS}/connections/{base_id}").status_code == 404


def test_runs_are_an_empty_list_for_now(http: httpx.Client) -> None:
    runs = http.get(f"{FS}/runs", params={"property": f"flowId=={uuid.uuid4()}"})
    assert runs.json() == {"items": [], "_links": {}}

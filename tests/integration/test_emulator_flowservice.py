"""Flow Service over real HTTP: the tutorial's sequence, response shapes, lists, PATCH, DELETE."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.specs import CRM_TO_AEP_ID, DATA_LAKE_SPEC_ID, XED_FULL_V1
from emulator.testing import MARIADB_SPEC_ID, Emulator, running_emulator

pytestmark = pytest.mark.integration

FS = "/data/foundation/flowservice"
POSTGRES_SPEC_ID = "74a1c565-4e59-48d7-9d67-7c03b8a13137"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running_emulator(sandboxes=("dev",)) as running:
        yield running


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    with emu.client() as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def source_body(base_id: str, spec_id: str = MARIADB_SPEC_ID, **extra: Any) -> dict[str, Any]:
    columns = [{"name": "id", "type": "string", "xdm": {"type": "string"}}]
    return {
        "name": unique("source"),
        "baseConnectionId": base_id,
        "data": {"format": "tabular"},
        "params": {"tableName": "crm.lead", "columns": columns},
        "connectionSpec": {"id": spec_id, "version": "1.0"},
        **extra,
    }


def target_body(schema_id: str, dataset_id: str, version: str = XED_FULL_V1) -> dict[str, Any]:
    return {
        "name": unique("target"),
        "data": {"schema": {"id": schema_id, "version": version}},
        "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": "1.0"},
    }


def created_id(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class Chain:
    """The resources a flow needs, created through the emulator's APIs."""

    def __init__(self, emu: Emulator, http: httpx.Client) -> None:
        self.base_id = emu.create_base_connection(MARIADB_SPEC_ID)
        self.schema_id, self.dataset_id = emu.create_schema_and_dataset(unique("schema"))
        self.mapping_id = emu.create_mapping_set(self.schema_id, {"id": "_id"})
        self.source_id = created_id(
            http.post(f"{FS}/sourceConnections", json=source_body(self.base_id))
        )
        target = target_body(self.schema_id, self.dataset_id)
        self.target_id = created_id(http.post(f"{FS}/targetConnections", json=target))

    def flow_body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": unique("flow"),
            "flowSpec": {"id": CRM_TO_AEP_ID, "version": "1.0"},
            "sourceConnectionIds": [self.source_id],
            "targetConnectionIds": [self.target_id],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}},
                {"name": "Mapping", "params": {"mappingId": self.mapping_id, "mappingVersion": 0}},
            ],
            "scheduleParams": {
                "startTime": "1612310466",
                "frequency": "minute",
                "interval": "15",
                "backfill": "true",
            },
        }
        body.update(overrides)
        return body


@pytest.fixture
def chain(emu: Emulator, http: httpx.Client) -> Chain:
    return Chain(emu, http)


def error_type(response: httpx.Response) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[-1]


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


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "connectionSpec": {"id": MARIADB_SPEC_ID}}, "FLOW-1400-400"),
        (
            {
                "name": "x",
                "auth": {"specName": "Connection String Based Authentication", "params": {}},
                "connectionSpec": {"id": MARIADB_SPEC_ID},
            },
            "FLOW-1400-400",
        ),
        (
            {
                "name": "x",
                "auth": {"specName": "OAuth", "params": {"connectionString": "s"}},
                "connectionSpec": {"id": MARIADB_SPEC_ID},
            },
            "FLOW-1400-400",
        ),
        (
            {
                "name": "x",
                "auth": {"specName": "Connection String Based Authentication", "params": {}},
                "connectionSpec": {"id": "00000000-0000-0000-0000-000000000000"},
            },
            "FLOW-1413-400",
        ),
    ],
)
def test_an_invalid_base_connection_is_refused(
    http: httpx.Client, body: dict[str, Any], code: str
) -> None:
    response = http.post(f"{FS}/connections", json=body)
    assert response.status_code == 400
    assert error_type(response) == code
    assert response.json()["report"]["detailed-message"]


def test_a_source_connection_needs_an_existing_base_of_the_same_connector(
    emu: Emulator, http: httpx.Client
) -> None:
    base_id = emu.create_base_connection(MARIADB_SPEC_ID)
    missing = http.post(f"{FS}/sourceConnections", json=source_body(str(uuid.uuid4())))
    assert (missing.status_code, error_type(missing)) == (400, "FLOW-1400-400")
    other = http.post(f"{FS}/sourceConnections", json=source_body(base_id, POSTGRES_SPEC_ID))
    assert (other.status_code, error_type(other)) == (400, "FLOW-1400-400")
    assert "not" in other.json()["detail"]
    unknown = source_body(base_id, "11111111-1111-1111-1111-111111111111")
    response = http.post(f"{FS}/sourceConnections", json=unknown)
    assert error_type(response) == "FLOW-1413-400"
    with_state = http.post(f"{FS}/sourceConnections", json=source_body(base_id, state="enabled"))
    assert error_type(with_state) == "FLOW-1410-400"


def test_a_target_connection_needs_an_existing_dataset_and_the_full_schema_version(
    emu: Emulator, http: httpx.Client
) -> None:
    schema_id, dataset_id = emu.create_schema_and_dataset(unique("target schema"))
    missing = http.post(f"{FS}/targetConnections", json=target_body(schema_id, "0" * 24))
    assert (missing.status_code, error_type(missing)) == (400, "FLOW-1400-400")
    wrong_version = target_body(schema_id, dataset_id, "application/vnd.adobe.xed+json;version=1")
    response = http.post(f"{FS}/targetConnections", json=wrong_version)
    assert (response.status_code, error_type(response)) == (400, "FLOW-1400-400")
    assert "version" in response.json()["detail"]
    created_id(http.post(f"{FS}/targetConnections", json=target_body(schema_id, dataset_id)))


def test_a_target_connection_to_another_schema_than_its_datasets_is_refused(
    emu: Emulator, http: httpx.Client
) -> None:
    _, dataset_id = emu.create_schema_and_dataset(unique("one"))
    other_schema, _ = emu.create_schema_and_dataset(unique("two"))
    response = http.post(f"{FS}/targetConnections", json=target_body(other_schema, dataset_id))
    assert (response.status_code, error_type(response)) == (400, "FLOW-1425-400")


def _copy(delta: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Copy", "params": {"deltaColumn": delta}}


@pytest.mark.parametrize(
    ("overrides", "code", "words"),
    [
        ({"flowSpec": {"id": str(uuid.UUID(int=1))}}, "FLOW-1413-400", "Flow spec"),
        ({"sourceConnectionIds": [str(uuid.UUID(int=2))]}, "FLOW-1400-400", "not found"),
        ({"targetConnectionIds": []}, "FLOW-1400-400", "targetConnectionIds"),
        ({"transformations": [_copy({"dateFormat": "x"})]}, "FLOW-1400-400", "deltaColumn.name"),
        (
            {"transformations": [{"name": "Mapping", "params": {"mappingId": "f" * 32}}]},
            "FLOW-1419-400",
            "Mapping set",
        ),
        (
            {"scheduleParams": {"startTime": "1", "frequency": "minute", "interval": "5"}},
            "FLOW-1400-400",
            "at least 15",
        ),
        (
            {"scheduleParams": {"startTime": "1", "frequency": "once", "interval": "1"}},
            "FLOW-1400-400",
            "not allowed",
        ),
        (
            {"scheduleParams": {"startTime": "1", "frequency": "hour"}},
            "FLOW-1400-400",
            "interval is required",
        ),
        ({"scheduleParams": {"frequency": "day", "interval": 1}}, "FLOW-1400-400", "startTime"),
        ({"state": "disabled"}, "FLOW-1410-400", "state"),
    ],
)
def test_an_invalid_flow_is_refused_with_the_platforms_error(
    http: httpx.Client, chain: Chain, overrides: dict[str, Any], code: str, words: str
) -> None:
    response = http.post(f"{FS}/flows", json=chain.flow_body(**overrides))
    assert response.status_code == 400, response.text
    assert error_type(response) == code
    assert words in response.json()["detail"]


def test_a_flow_from_a_source_outside_the_flow_spec_is_refused(
    emu: Emulator, http: httpx.Client, chain: Chain
) -> None:
    base = http.post(
        f"{FS}/connections",
        json={
            "name": "lake",
            "auth": {"specName": "Connection String Based Authentication", "params": {}},
            "connectionSpec": {"id": DATA_LAKE_SPEC_ID},
        },
    )
    assert base.status_code == 400  # the data lake spec has no auth spec to create a base with
    lake_source = source_body("", DATA_LAKE_SPEC_ID)
    lake_source.pop("baseConnectionId")
    lake_source_id = created_id(http.post(f"{FS}/sourceConnections", json=lake_source))
    response = http.post(f"{FS}/flows", json=chain.flow_body(sourceConnectionIds=[lake_source_id]))
    assert (response.status_code, error_type(response)) == (400, "FLOW-1400-400")
    assert "not supported" in response.json()["detail"]


def test_a_flow_whose_mapping_set_targets_another_schema_is_refused(
    emu: Emulator, http: httpx.Client, chain: Chain
) -> None:
    other_schema, _ = emu.create_schema_and_dataset(unique("other"))
    other_mapping = emu.create_mapping_set(other_schema, {"id": "_id"})
    mapping = {"name": "Mapping", "params": {"mappingId": other_mapping, "mappingVersion": 0}}
    body = chain.flow_body(transformations=[_copy({"name": "updated_at"}), mapping])
    response = http.post(f"{FS}/flows", json=body)
    assert (response.status_code, error_type(response)) == (400, "FLOW-1425-400")


def test_a_flow_with_an_unknown_mapping_version_is_refused(
    http: httpx.Client, chain: Chain
) -> None:
    mapping = {"name": "Mapping", "params": {"mappingId": chain.mapping_id, "mappingVersion": 7}}
    body = chain.flow_body(transformations=[_copy({"name": "updated_at"}), mapping])
    response = http.post(f"{FS}/flows", json=body)
    assert (response.status_code, error_type(response)) == (400, "FLOW-1412-400")


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

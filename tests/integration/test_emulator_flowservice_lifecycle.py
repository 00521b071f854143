"""Flow Service over real HTTP after creation: PATCH under If-Match, actions, in-use deletes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from emulator.testing import Emulator
from tests.integration import flowservice_support as support
from tests.integration.flowservice_support import FS, Chain, created_id, error_type, unique

chain, emu, http = support.chain, support.emu, support.http  # fixtures, for pytest
pytestmark = pytest.mark.integration


def create_flow(http: httpx.Client, chain: Chain, **overrides: Any) -> tuple[str, str]:
    """A flow over the chain: its id and etag."""
    created = http.post(f"{FS}/flows", json=chain.flow_body(**overrides))
    return created_id(created), str(created.json()["etag"])


def patch(http: httpx.Client, flow_id: str, etag: str, *operations: Any) -> httpx.Response:
    """``PATCH /flows/{id}`` with these JSON Patch operations under ``if-match: etag``."""
    return http.patch(f"{FS}/flows/{flow_id}", json=list(operations), headers={"if-match": etag})


def replace(path: str, value: Any) -> dict[str, Any]:
    """A JSON Patch ``replace`` operation."""
    return {"op": "replace", "path": path, "value": value}


def stored(http: httpx.Client, flow_id: str) -> dict[str, Any]:
    """The flow as Flow Service answers it now."""
    flow: dict[str, Any] = http.get(f"{FS}/flows/{flow_id}").json()["items"][0]
    return flow


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("connections", "Base connection"),
        ("sourceConnections", "Source connection"),
        ("targetConnections", "Target connection"),
    ],
)
def test_a_connection_a_flow_uses_is_deleted_only_after_the_flow(
    http: httpx.Client, chain: Chain, kind: str, label: str
) -> None:
    flow_id, _ = create_flow(http, chain)
    connection_id = {
        "connections": chain.base_id,
        "sourceConnections": chain.source_id,
        "targetConnections": chain.target_id,
    }[kind]
    refused = http.delete(f"{FS}/{kind}/{connection_id}")
    assert (refused.status_code, error_type(refused)) == (400, "FLOW-1418-400")
    detail = refused.json()["detail"]
    assert detail.startswith(f"{label} {connection_id} is used by flow {flow_id}")
    assert refused.json()["report"]["flowIds"] == [flow_id]
    assert http.get(f"{FS}/{kind}/{connection_id}").status_code == 200
    assert http.delete(f"{FS}/flows/{flow_id}").status_code == 204
    assert http.delete(f"{FS}/{kind}/{connection_id}").status_code == 204
    gone = http.delete(f"{FS}/{kind}/{connection_id}")
    assert (gone.status_code, error_type(gone)) == (404, "FLOW-1439-404")


def test_a_target_connection_is_refused_while_any_of_its_flows_remains(
    http: httpx.Client, chain: Chain
) -> None:
    first, _ = create_flow(http, chain)
    second, _ = create_flow(http, chain)
    refused = http.delete(f"{FS}/targetConnections/{chain.target_id}")
    assert refused.json()["report"]["flowIds"] == [first, second]
    http.delete(f"{FS}/flows/{first}")
    refused = http.delete(f"{FS}/targetConnections/{chain.target_id}")
    assert refused.json()["report"]["flowIds"] == [second]


def test_a_patch_of_the_schedule_is_applied_with_the_types_flow_service_answers(
    http: httpx.Client, chain: Chain
) -> None:
    flow_id, etag = create_flow(http, chain)
    done = patch(
        http,
        flow_id,
        etag,
        replace("/scheduleParams/frequency", "hour"),
        replace("/scheduleParams/interval", "2"),
        replace("/scheduleParams/backfill", "false"),
    )
    assert done.status_code == 200, done.text
    flow = stored(http, flow_id)
    assert flow["scheduleParams"] == {
        "startTime": 1612310466,
        "frequency": "hour",
        "interval": "2",
        "backfill": False,
    }
    assert flow["etag"] == done.json()["etag"] != etag
    assert flow["lastOperation"]["operation"] == "update"


@pytest.mark.parametrize(
    ("operation", "problem"),
    [
        (replace("/scheduleParams/interval", 5), "at least 15"),
        (replace("/scheduleParams/frequency", "fortnight"), "frequency must be one of"),
        ({"op": "remove", "path": "/scheduleParams/frequency"}, "frequency is required"),
        (replace("/scheduleParams/startTime", 1612310467), "startTime cannot be changed"),
    ],
)
def test_a_patch_that_breaks_the_schedule_is_refused_and_changes_nothing(
    http: httpx.Client, chain: Chain, operation: dict[str, Any], problem: str
) -> None:
    flow_id, etag = create_flow(http, chain)
    refused = patch(http, flow_id, etag, operation)
    assert (refused.status_code, error_type(refused)) == (400, "FLOW-1400-400")
    assert problem in refused.json()["detail"]
    assert stored(http, flow_id)["etag"] == etag


def test_the_start_time_moves_while_the_scheduled_start_is_still_ahead(
    http: httpx.Client, chain: Chain
) -> None:
    start = int(time.time()) + 86400
    schedule = {"startTime": start, "frequency": "day", "interval": 1}
    flow_id, etag = create_flow(http, chain, scheduleParams=schedule)
    done = patch(http, flow_id, etag, replace("/scheduleParams/startTime", str(start + 3600)))
    assert done.status_code == 200, done.text
    assert stored(http, flow_id)["scheduleParams"]["startTime"] == start + 3600


def test_a_patch_of_the_delta_column_is_applied_and_one_without_a_name_refused(
    http: httpx.Client, chain: Chain
) -> None:
    flow_id, etag = create_flow(http, chain)
    delta = {"name": "modified_at", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}
    done = patch(http, flow_id, etag, replace("/transformations/0/params/deltaColumn", delta))
    assert done.status_code == 200, done.text
    copy = stored(http, flow_id)["transformations"][0]
    assert copy == {"name": "Copy", "params": {"deltaColumn": delta}}
    etag = done.json()["etag"]
    refused = patch(http, flow_id, etag, replace("/transformations/0/params/deltaColumn/name", ""))
    assert (refused.status_code, error_type(refused)) == (400, "FLOW-1400-400")
    assert "deltaColumn.name is required" in refused.json()["detail"]


def test_a_patch_to_another_mapping_set_of_the_schema_is_applied(
    emu: Emulator, http: httpx.Client, chain: Chain
) -> None:
    flow_id, etag = create_flow(http, chain)
    newer = emu.create_mapping_set(chain.schema_id, {"id": "_id", "first": "person.name.firstName"})
    mapping = {"name": "Mapping", "params": {"mappingId": newer, "mappingVersion": 0}}
    done = patch(http, flow_id, etag, replace("/transformations/1", mapping))
    assert done.status_code == 200, done.text
    params = stored(http, flow_id)["transformations"][1]["params"]
    assert params == {"mappingId": newer, "mappingVersion": "0"}


def test_a_patch_to_a_mapping_set_the_flow_cannot_use_is_refused_as_at_creation(
    emu: Emulator, http: httpx.Client, chain: Chain
) -> None:
    flow_id, etag = create_flow(http, chain)
    other_schema, _ = emu.create_schema_and_dataset(unique("other schema"))
    elsewhere = emu.create_mapping_set(other_schema, {"id": "_id"})
    cases = [
        ("/transformations/1/params/mappingId", uuid.uuid4().hex, "FLOW-1419-400"),
        ("/transformations/1/params/mappingId", elsewhere, "FLOW-1425-400"),
        ("/transformations/1/params/mappingVersion", 7, "FLOW-1412-400"),
        ("/transformations/1/params/mappingId", "", "FLOW-1400-400"),
    ]
    for path, value, code in cases:
        refused = patch(http, flow_id, etag, replace(path, value))
        assert (refused.status_code, error_type(refused)) == (400, code), path
    assert stored(http, flow_id)["transformations"][1]["params"]["mappingId"] == chain.mapping_id


def test_a_patch_naming_a_connection_that_does_not_exist_is_refused(
    http: httpx.Client, chain: Chain
) -> None:
    flow_id, etag = create_flow(http, chain)
    refused = patch(http, flow_id, etag, replace("/targetConnectionIds", [str(uuid.uuid4())]))
    assert (refused.status_code, error_type(refused)) == (400, "FLOW-1400-400")


def test_every_patch_and_action_answers_a_fresh_etag_and_makes_the_last_one_stale(
    http: httpx.Client, chain: Chain
) -> None:
    flow_id, first = create_flow(http, chain)
    second = patch(http, flow_id, first, replace("/name", unique("renamed"))).json()["etag"]
    stale = patch(http, flow_id, first, replace("/name", "late"))
    assert (stale.status_code, error_type(stale)) == (412, "FLOW-1404-412")
    disabled = http.post(f"{FS}/flows/{flow_id}/action", params={"op": "disable"})
    assert disabled.status_code == 200
    third = disabled.json()["etag"]
    assert stored(http, flow_id)["state"] == "disabled"
    stale = patch(http, flow_id, second, replace("/name", "late"))
    assert (stale.status_code, error_type(stale)) == (412, "FLOW-1404-412")
    refused = http.post(
        f"{FS}/flows/{flow_id}/action", params={"op": "ENABLE"}, headers={"if-match": second}
    )
    assert (refused.status_code, error_type(refused)) == (412, "FLOW-1404-412")
    enabled = http.post(
        f"{FS}/flows/{flow_id}/action", params={"op": "ENABLE"}, headers={"if-match": third}
    )
    fourth = enabled.json()["etag"]
    assert len({first, second, third, fourth}) == 4
    flow = stored(http, flow_id)
    assert (flow["state"], flow["etag"], flow["lastOperation"]["operation"]) == (
        "enabled",
        fourth,
        "enable",
    )

"""The client's lifecycle calls against the emulator served in-process: etags, PATCH under
If-Match, flow actions, deletes refused while in use or of what is already gone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from structlog.testing import capture_logs

from emulator.app import create_app
from emulator.testing import MARIADB_SPEC_ID
from messages.models import DataflowRequested
from tests.integration.platform_support import CreatedDataflow, create_dataflow, dataflow_request
from tests.unit.platform_fakes import emulated_client
from worker.errors import InUseError, NotFoundError, RejectedError, StaleEtagError
from worker.observability.metrics import Metrics
from worker.platform import PlatformClient, bodies
from worker.platform.baseconnections import base_connection_body

pytestmark = pytest.mark.anyio

CONNECTION_STRING = "Server=db;Port=3306;Database=crm;UID=reader;PWD=pw"
Delete = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class World:
    """A client of a fresh in-process emulator, and one whole dataflow made through it."""

    client: PlatformClient
    app: Starlette
    request: DataflowRequested
    made: CreatedDataflow


@pytest.fixture
def metrics() -> Metrics:
    """Metrics on a registry of the test's own."""
    return Metrics(CollectorRegistry())


@pytest.fixture
async def world(metrics: Metrics) -> AsyncIterator[World]:
    """A dataflow (auto mapping: with a field group) in a fresh emulator."""
    app = create_app()
    async with emulated_client(app, metrics=metrics) as client:
        body = base_connection_body("crm db", MARIADB_SPEC_ID, CONNECTION_STRING)
        base = await client.create_base_connection(None, body)
        request = dataflow_request("crm lifecycle", base)
        yield World(client, app, request, await create_dataflow(client, request))


def replace(path: str, value: object) -> dict[str, object]:
    """A JSON Patch ``replace`` operation."""
    return {"op": "replace", "path": path, "value": value}


async def test_a_flow_is_read_with_its_etag_and_patched_under_it(world: World) -> None:
    client, flow_id = world.client, world.made.flow
    flow, etag = await world.client.flow_with_etag(None, flow_id)
    assert flow["id"] == flow_id
    assert etag == flow["etag"]
    schedule = [
        replace("/scheduleParams/frequency", "hour"),
        replace("/scheduleParams/interval", 2),
    ]
    new_etag = await client.patch_flow(None, flow_id, schedule, etag)
    assert new_etag != etag
    flow, current = await client.flow_with_etag(None, flow_id)
    assert current == new_etag
    assert (flow["scheduleParams"]["frequency"], flow["scheduleParams"]["interval"]) == (
        "hour",
        "2",
    )


async def test_a_stale_etag_raises_stale_etag_error_and_a_fresh_read_applies_the_change(
    world: World,
) -> None:
    client, flow_id = world.client, world.made.flow
    _, first = await client.flow_with_etag(None, flow_id)
    await client.patch_flow(None, flow_id, [replace("/description", "changed elsewhere")], first)
    delta = [replace("/transformations/0/params/deltaColumn", {"name": "id"})]
    with pytest.raises(StaleEtagError) as raised:
        await client.patch_flow(None, flow_id, delta, first)
    assert (raised.value.status, raised.value.code) == (412, "FLOW-1404-412")
    assert raised.value.retryable is False
    _, fresh = await client.flow_with_etag(None, flow_id)
    await client.patch_flow(None, flow_id, delta, fresh)
    flow = await client.get_flow(None, flow_id)
    assert flow["transformations"][0]["params"]["deltaColumn"] == {"name": "id"}
    assert flow["description"] == "changed elsewhere"


async def test_a_flow_is_patched_onto_a_new_mapping_set_and_refused_an_unknown_one(
    world: World,
) -> None:
    client, made = world.client, world.made
    body = bodies.mapping_set_body(world.request, made.schema, made.tenant)
    newer = await client.create_mapping_set(None, body)
    mapping = {"mappingId": newer.id, "mappingVersion": str(newer.version)}
    _, etag = await client.flow_with_etag(None, made.flow)
    etag = await client.patch_flow(
        None, made.flow, [replace("/transformations/1/params", mapping)], etag
    )
    assert (await client.get_flow(None, made.flow))["transformations"][1]["params"] == mapping
    unknown = [replace("/transformations/1/params/mappingId", "0" * 32)]
    with pytest.raises(RejectedError) as raised:
        await client.patch_flow(None, made.flow, unknown, etag)
    assert type(raised.value) is RejectedError
    assert raised.value.code == "FLOW-1419-400"


async def test_a_started_flows_start_time_cannot_be_patched(world: World) -> None:
    client, flow_id = world.client, world.made.flow
    _, etag = await client.flow_with_etag(None, flow_id)
    later = [replace("/scheduleParams/startTime", 1764400000 + 3600)]
    with pytest.raises(RejectedError, match="startTime cannot be changed") as raised:
        await client.patch_flow(None, flow_id, later, etag)
    assert raised.value.code == "FLOW-1400-400"


async def test_a_flow_is_disabled_and_enabled_each_action_answering_the_new_etag(
    world: World,
) -> None:
    client, flow_id = world.client, world.made.flow
    _, created = await client.flow_with_etag(None, flow_id)
    disabled = await client.flow_action(None, flow_id, "disable")
    flow, etag = await client.flow_with_etag(None, flow_id)
    assert (flow["state"], etag) == ("disabled", disabled)
    assert await client.flow_action(None, flow_id, "disable") != disabled  # again: no harm
    enabled = await client.flow_action(None, flow_id, "enable")
    flow, etag = await client.flow_with_etag(None, flow_id)
    assert (flow["state"], etag) == ("enabled", enabled)
    with pytest.raises(StaleEtagError):
        await client.patch_flow(None, flow_id, [replace("/name", "late")], created)


async def test_deleting_what_another_resource_uses_raises_in_use_error(world: World) -> None:
    client, made, group = world.client, world.made, world.made.group
    assert group is not None
    base = world.request.source.base_connection_id
    refusals: list[tuple[Delete, str, str]] = [
        (lambda: client.delete_source_connection(None, made.source), "FLOW-1418-400", made.flow),
        (lambda: client.delete_target_connection(None, made.target), "FLOW-1418-400", made.flow),
        (lambda: client.flows.delete(None, "connections", base), "FLOW-1418-400", made.flow),
        (lambda: client.delete_schema(None, made.schema), "XDM-1304-400", made.dataset),
        (lambda: client.delete_field_group(None, group), "XDM-1304-400", made.schema),
    ]
    for delete, code, user in refusals:
        with pytest.raises(InUseError) as raised:
            await delete()
        assert raised.value.code == code
        assert user in str(raised.value)
    assert (await client.get_schema(None, made.schema))["id"] == made.schema


async def test_catalog_deletes_a_dataset_a_target_connection_uses_so_the_client_asks_first(
    world: World,
) -> None:
    client, made = world.client, world.made
    users = await client.target_connections_using_dataset(None, made.dataset)
    assert [user["id"] for user in users] == [made.target]
    body = bodies.target_connection_body(world.request, made.schema, made.dataset)
    second = await client.create_target_connection(None, {**body, "name": "second target"})
    users = await client.target_connections_using_dataset(None, made.dataset)
    assert [user["id"] for user in users] == [made.target, second]
    assert await client.target_connections_using_dataset(None, "0" * 24) == []
    await client.delete_dataset(None, made.dataset)  # not refused: Catalog knows no flows


async def test_deleting_what_is_already_gone_raises_not_found_error(world: World) -> None:
    client, made, group = world.client, world.made, world.made.group
    assert group is not None
    deletes: list[Delete] = [  # newest first: nothing is in use by then
        lambda: client.delete_flow(None, made.flow),
        lambda: client.delete_target_connection(None, made.target),
        lambda: client.delete_dataset(None, made.dataset),
        lambda: client.delete_schema(None, made.schema),
        lambda: client.delete_field_group(None, group),
        lambda: client.delete_source_connection(None, made.source),
    ]
    for delete in deletes:
        await delete()
    for delete in deletes:
        with pytest.raises(NotFoundError):
            await delete()
    assert list(world.app.state.emulator.everything("flows")) == []


async def test_lifecycle_calls_are_logged_and_counted_under_their_api(
    world: World, metrics: Metrics
) -> None:
    client, flow_id = world.client, world.made.flow
    with capture_logs() as logs:
        _, etag = await client.flow_with_etag(None, flow_id)
        await client.patch_flow(None, flow_id, [replace("/name", "renamed")], etag)
        with pytest.raises(StaleEtagError):
            await client.patch_flow(None, flow_id, [replace("/name", "late")], etag)
        await client.flow_action(None, flow_id, "disable")
        await client.target_connections_using_dataset(None, world.made.dataset)
    lines = [(e["api"], e["method"], e["path"], e["status"]) for e in logs]
    assert lines == [
        ("flowservice", "GET", "/flowservice/flows/{id}", 200),
        ("flowservice", "PATCH", "/flowservice/flows/{id}", 200),
        ("flowservice", "PATCH", "/flowservice/flows/{id}", 412),
        ("flowservice", "POST", "/flowservice/flows/{id}/action", 200),
        ("flowservice", "GET", "/flowservice/targetConnections", 200),
    ]
    sample = metrics.registry.get_sample_value
    total = "dataflow_platform_requests_total"
    assert sample(total, {"api": "flowservice", "method": "PATCH", "status_class": "2xx"}) == 1
    assert sample(total, {"api": "flowservice", "method": "PATCH", "status_class": "4xx"}) == 1

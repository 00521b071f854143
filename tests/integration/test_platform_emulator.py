"""The Platform client against the emulator over real HTTP: every operation, awkward names."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from emulator.testing import MARIADB_SPEC_ID, Emulator, running_emulator
from messages.models import DataflowRequested
from tests.integration.platform_support import (
    client_for,
    create_dataflow,
    dataflow_request,
    no_secrets_logged,
)
from worker.errors import NotFoundError, RejectedError
from worker.platform import PlatformClient, bodies

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A fresh emulator for one test."""
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def no_secrets_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The client logs, and none of what it logs holds a credential."""
    with no_secrets_logged(caplog) as events:
        yield
    assert events, "the client logged nothing"


async def test_every_operation_of_a_dataflow_works_over_http(emu: Emulator) -> None:
    base = emu.create_base_connection(MARIADB_SPEC_ID)
    request = dataflow_request("crm customers", base)
    async with client_for(emu) as client:
        assert (await client.get_base_connection(None, base))["id"] == base
        created = await create_dataflow(client, request)
        source, group, schema = created.source, created.group, created.schema
        dataset, target = created.dataset, created.target
        mapping, flow = created.mapping, created.flow
        assert group is not None
        found = {
            "source": await client.find_source_connection(
                None, bodies.resource_name(request, "source")
            ),
            "field group": await client.find_field_group(
                None, bodies.resource_name(request, "field group")
            ),
            "schema": await client.find_schema(None, bodies.schema_title(request)),
            "dataset": await client.find_dataset(None, bodies.resource_name(request, "dataset")),
            "target": await client.find_target_connection(
                None, bodies.resource_name(request, "target")
            ),
            "flow": await client.find_flow(None, bodies.resource_name(request, "flow")),
        }
        assert {kind: item and item["id"] for kind, item in found.items()} == {
            "source": source,
            "field group": group,
            "schema": schema,
            "dataset": dataset,
            "target": target,
            "flow": flow,
        }
        assert (await client.get_source_connection(None, source))["params"][
            "tableName"
        ] == "crm.customers"
        assert (await client.get_field_group(None, group))["id"] == group
        assert (await client.get_schema(None, schema))["title"] == bodies.schema_title(request)
        assert (await client.get_dataset(None, dataset))["schemaRef"]["id"] == schema
        assert (await client.get_target_connection(None, target))["params"]["dataSetId"] == dataset
        assert (await client.get_mapping_set(None, mapping.id))["id"] == mapping.id
        assert (await client.get_flow(None, flow))["sourceConnectionIds"] == [source]
        assert all(run["flowId"] == flow for run in await client.runs(None, flow))

        await client.delete_flow(None, flow)
        await client.delete_target_connection(None, target)
        await client.delete_dataset(None, dataset)
        await client.delete_schema(None, schema)
        await client.delete_field_group(None, group)
        await client.delete_source_connection(None, source)
        with pytest.raises(NotFoundError):
            await client.get_flow(None, flow)
        assert await client.find_dataset(None, bodies.resource_name(request, "dataset")) is None
    left = emu.resources()
    assert [len(left[kind]) for kind in ("flows", "dataSets", "schemas", "fieldGroups")] == [0] * 4


async def test_runs_of_a_flow_are_listed_after_the_schedule_fires(emu: Emulator) -> None:
    base = emu.create_base_connection(MARIADB_SPEC_ID)
    request = dataflow_request("crm runs", base)
    async with client_for(emu) as client:
        flow = (await create_dataflow(client, request)).flow
        emu.advance_clock(3600)
        runs = await client.runs(None, flow)
    assert runs
    assert {run["flowId"] for run in runs} == {flow}


async def test_a_connector_missing_from_the_flow_spec_is_rejected(emu: Emulator) -> None:
    async with client_for(emu) as client:
        with pytest.raises(RejectedError, match="does not accept"):
            await client.flow_spec(None, "CRMToAEP", "00000000-0000-0000-0000-000000000000")


async def test_schema_registry_lists_are_followed_past_the_300_item_page(emu: Emulator) -> None:
    base = emu.create_base_connection(MARIADB_SPEC_ID)
    request = dataflow_request("paging", base)
    async with client_for(emu) as client:
        tenant = await client.tenant_id(None)
        template = bodies.field_group_body(request, tenant)
        for number in range(300):
            await client.create_field_group(None, {**template, "title": f"group {number:03}"})
        # A comma cannot be filtered on, so the whole (title-ordered) list is read.
        wanted = await client.create_field_group(None, {**template, "title": "zz, the last"})
        found = await client.find_field_group(None, "zz, the last")
    assert found is not None
    assert found["id"] == wanted
    pages = [r for r in emu.requests() if r["path"].endswith("/tenant/fieldgroups")]
    assert [r["method"] for r in pages].count("GET") == 2


async def test_catalog_lists_are_followed_past_the_100_item_page(emu: Emulator) -> None:
    request = dataflow_request("paging", emu.create_base_connection(MARIADB_SPEC_ID))
    async with client_for(emu) as client:
        schema = await client.create_schema(None, bodies.schema_body(request))
        template = bodies.dataset_body(request, schema)
        for number in range(100):  # names that the widened filter `a*b` matches too
            await client.create_dataset(None, {**template, "name": f"a{number:03}b"})
        wanted = await client.create_dataset(None, {**template, "name": "a,b"})
        found = await client.find_dataset(None, "a,b")
    assert found is not None
    assert found["id"] == wanted
    lists = [r for r in emu.requests() if r["method"] == "GET" and r["path"].endswith("/dataSets")]
    assert len(lists) == 2


AWKWARD = [
    'say "hi"',
    "a,b",
    "*star*",
    "!neg",
    "a&b=c",
    "x==y",
    "Übersicht 注文",
    'all of "it", *, !, & and == ünïcode',
    "it's 100% #1 & more",
    "%41%2C looks encoded",
    "O'Brien's 'quoted'",
]


def decoys(name: str) -> list[str]:
    """Names a sloppy filter would confuse with ``name``."""
    near = {
        name + "x",
        "x" + name,
        name.upper(),
        name.replace('"', "").replace(",", "").replace("*", "").replace("!", ""),
        name.replace("*", "Z"),
        "other",
        *name.split(","),
        *name.split("=="),
        name.split("&")[0],  # what a server sees of an unencoded `&` or `#`
        name.split("#")[0],
        unquote(name),  # what decoding twice makes of `%41%2C`
    }
    return sorted(d for d in near if d and d != name)


@pytest.mark.parametrize("name", AWKWARD)
async def test_find_by_name_finds_exactly_the_resource_of_that_name(
    emu: Emulator, name: str
) -> None:
    base = emu.create_base_connection(MARIADB_SPEC_ID)
    request = dataflow_request("awkward", base)
    async with client_for(emu) as client:
        tenant = await client.tenant_id(None)
        created: dict[str, dict[str, str]] = {}
        for each in [name, *decoys(name)]:
            created[each] = await _create_named(client, request, tenant, each)
        wanted = created[name]
        assert await _find_all(client, name) == wanted


async def _create_named(
    client: PlatformClient, request: DataflowRequested, tenant: str, name: str
) -> dict[str, str]:
    """A source connection, field group, schema, dataset and target connection called ``name``."""
    source = await client.create_source_connection(
        None, {**bodies.source_connection_body(request), "name": name}
    )
    group_body = {**bodies.field_group_body(request, tenant), "title": f"{name} (field group)"}
    group = await client.create_field_group(None, group_body)
    schema_body = {**bodies.schema_body(request, group), "title": f"{name} (schema)"}
    schema = await client.create_schema(None, schema_body)
    dataset = await client.create_dataset(
        None, {**bodies.dataset_body(request, schema), "name": name}
    )
    target_body = {**bodies.target_connection_body(request, schema, dataset), "name": name}
    target = await client.create_target_connection(None, target_body)
    return {
        "source": source,
        "field group": group,
        "schema": schema,
        "dataset": dataset,
        "target": target,
    }


async def _find_all(client: PlatformClient, name: str) -> dict[str, str | None]:
    found = {
        "source": await client.find_source_connection(None, name),
        "field group": await client.find_field_group(None, f"{name} (field group)"),
        "schema": await client.find_schema(None, f"{name} (schema)"),
        "dataset": await client.find_dataset(None, name),
        "target": await client.find_target_connection(None, name),
    }
    return {kind: item["id"] if item else None for kind, item in found.items()}

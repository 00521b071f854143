"""The Platform client against the emulator over real HTTP: every operation, awkward names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.testing import MARIADB_SPEC_ID, Emulator, running_emulator
from messages.models import DataflowRequested
from tests.integration.platform_support import client_for, create_dataflow, no_secrets_logged
from worker.errors import NotFoundError, RejectedError
from worker.platform import PlatformClient, bodies

pytestmark = pytest.mark.integration


def dataflow_request(name: str, base_connection_id: str, **changes: Any) -> DataflowRequested:
    """A MariaDB table request in auto mode, named ``name``."""
    data: dict[str, Any] = {
        "request_id": f"r-{uuid.uuid4().hex[:12]}",
        "name": name,
        "source": {
            "connector": "mariadb",
            "base_connection_id": base_connection_id,
            "table": "crm.customers",
            "columns": [
                {"name": "id", "type": "int", "xdm": {"type": "integer"}, "meta_xdm_type": "int"},
                {"name": "first-name", "type": "varchar", "xdm": {"type": "string"}},
                {
                    "name": "updated",
                    "type": "datetime",
                    "xdm": {"type": "string", "format": "date-time"},
                },
            ],
        },
        "mapping_mode": "auto",
        "delta_column": {"name": "updated"},
        "schedule": {"frequency": "minute", "interval": 15, "start_time": 1764400000},
    }
    data.update(changes)
    return DataflowRequested.model_validate(data)


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


def test_every_operation_of_a_dataflow_works_over_http(emu: Emulator) -> None:
    base = emu.create_base_connection(MARIADB_SPEC_ID)
    request = dataflow_request("crm customers", base)
    with client_for(emu) as client:
        assert client.get_base_connection(None, base)["id"] == base
        created = create_dataflow(client, request)
        source, group, schema = created.source, created.group, created.schema
        dataset, target = created.dataset, created.target
        mapping, flow = created.mapping, created.flow
        assert group is not None
        found = {
            "source": client.find_source_connection(None, bodies.resource_name(request, "source")),
            "field group": client.find_field_group(
                None, bodies.resource_name(request, "field group")
            ),
            "schema": client.find_schema(None, bodies.schema_title(request)),
            "dataset": client.find_dataset(None, bodies.resource_name(request, "dataset")),
            "target": client.find_target_connection(None, bodies.resource_name(request, "target")),
            "flow": client.find_flow(None, bodies.resource_name(request, "flow")),
        }
        assert {kind: item and item["id"] for kind, item in found.items()} == {
            "source": source,
            "field group": group,
            "schema": schema,
            "dataset": dataset,
            "target": target,
            "flow": flow,
        }
        assert client.get_source_connection(None, source)["params"]["tableName"] == "crm.customers"
        assert client.get_field_group(None, group)["id"] == group
        assert client.get_schema(None, schema)["title"] == bodies.schema_title(request)
        assert client.get_dataset(None, dataset)["schemaRef"]["id"] == schema
        assert client.get_target_connection(None, target)["params"]["dataSetId"] == dataset
        assert client.get_mapping_set(None, mapping.id)["id"] == mapping.id
        assert client.get_flow(None, flow)["sourceConnectionIds"] == [source]
        assert all(run["flowId"] == flow for run in client.runs(None, flow))

        client.delete_flow(None, flow)
        client.delete_target_connection(None, target)
        client.delete_dataset(None, dataset)
        client.delete_schema(None, schema)
        client.delete_field_group(None, group)
        client.delete_source_connection(None, source)
        with pytest.raises(NotFoundError):
            client.get_flow(None, flow)
        assert client.find_dataset(None, bodies.resource_name(request, "dataset")) is None
    left = emu.resources()
    assert [len(left[kind]) for kind in ("flows", "dataSets", "schemas", "fieldGroups")] == [0] * 4


def test_runs_of_a_flow_are_listed_after_the_schedule_fires(emu: Emulator) -> None:
    base = emu.create_base_connection(MARIADB_SPEC_ID)
    request = dataflow_request("crm runs", base)
    with client_for(emu) as client:
        flow = create_dataflow(client, request).flow
        emu.advance_clock(3600)
        runs = client.runs(None, flow)
    assert runs
    assert {run["flowId"] for run in runs} == {flow}


def test_a_connector_missing_from_the_flow_spec_is_rejected(emu: Emulator) -> None:
    with client_for(emu) as client, pytest.raises(RejectedError, match="does not accept"):
        client.flow_spec(None, "CRMToAEP", "00000000-0000-0000-0000-000000000000")


def test_schema_registry_lists_are_followed_past_the_300_item_page(emu: Emulator) -> None:
    base = emu.create_base_connection(MARIADB_SPEC_ID)
    request = dataflow_request("paging", base)
    with client_for(emu) as client:
        tenant = client.tenant_id(None)
        template = bodies.field_group_body(request, tenant)
        for number in range(300):
            client.create_field_group(None, {**template, "title": f"group {number:03}"})
        # A comma cannot be filtered on, so the whole (title-ordered) list is read.
        wanted = client.create_field_group(None, {**template, "title": "zz, the last"})
        found = client.find_field_group(None, "zz, the last")
    assert found is not None
    assert found["id"] == wanted
    pages = [r for r in emu.requests() if r["path"].endswith("/tenant/fieldgroups")]
    assert [r["method"] for r in pages].count("GET") == 2


def test_catalog_lists_are_followed_past_the_100_item_page(emu: Emulator) -> None:
    request = dataflow_request("paging", emu.create_base_connection(MARIADB_SPEC_ID))
    with client_for(emu) as client:
        schema = client.create_schema(None, bodies.schema_body(request))
        template = bodies.dataset_body(request, schema)
        for number in range(100):  # names that the widened filter `a*b` matches too
            client.create_dataset(None, {**template, "name": f"a{number:03}b"})
        wanted = client.create_dataset(None, {**template, "name": "a,b"})
        found = client.find_dataset(None, "a,b")
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
    }
    return sorted(d for d in near if d and d != name)


@pytest.mark.parametrize("name", AWKWARD)
def test_find_by_name_finds_exactly_the_resource_of_that_name(emu: Emulator, name: str) -> None:
    base = emu.create_base_connection(MARIADB_SPEC_ID)
    request = dataflow_request("awkward", base)
    with client_for(emu) as client:
        tenant = client.tenant_id(None)
        created: dict[str, dict[str, str]] = {}
        for each in [name, *decoys(name)]:
            created[each] = _create_named(client, request, tenant, each)
        wanted = created[name]
        assert _find_all(client, name) == wanted


def _create_named(
    client: PlatformClient, request: DataflowRequested, tenant: str, name: str
) -> dict[str, str]:
    """A source connection, field group, schema, dataset and target connection called ``name``."""
    source = client.create_source_connection(
        None, {**bodies.source_connection_body(request), "name": name}
    )
    group_body = {**bodies.field_group_body(request, tenant), "title": f"{name} (field group)"}
    group = client.create_field_group(None, group_body)
    schema_body = {**bodies.schema_body(request, group), "title": f"{name} (schema)"}
    schema = client.create_schema(None, schema_body)
    dataset = client.create_dataset(None, {**bodies.dataset_body(request, schema), "name": name})
    target_body = {**bodies.target_connection_body(request, schema, dataset), "name": name}
    target = client.create_target_connection(None, target_body)
    return {
        "source": source,
        "field group": group,
        "schema": schema,
        "dataset": dataset,
        "target": target,
    }


def _find_all(client: PlatformClient, name: str) -> dict[str, str | None]:
    found = {
        "source": client.find_source_connection(None, name),
        "field group": client.find_field_group(None, f"{name} (field group)"),
        "schema": client.find_schema(None, f"{name} (schema)"),
        "dataset": client.find_dataset(None, name),
        "target": client.find_target_connection(None, name),
    }
    return {kind: item["id"] if item else None for kind, item in found.items()}

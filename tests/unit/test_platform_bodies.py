"""Request bodies and resource names are built from a request exactly as the contract says."""

from __future__ import annotations

from typing import Any

import pytest

from messages.models import DataflowRequested
from worker.platform import bodies

PERSON = "https://ns.adobe.com/xdm/context/profile-person-details"
PERSONAL = "https://ns.adobe.com/xdm/context/profile-personal-details"
WORK = "https://ns.adobe.com/xdm/context/profile-work-details"


def request(**changes: Any) -> DataflowRequested:
    """A valid request for the `public.customers` table, with ``changes`` applied."""
    data: dict[str, Any] = {
        "request_id": "crm-42",
        "name": "crm customers",
        "source": {
            "connector": "postgresql",
            "base_connection_id": "base-1",
            "table": "public.customers",
            "columns": [
                {
                    "name": "id",
                    "type": "integer",
                    "xdm": {"type": "integer"},
                    "meta_xdm_type": "int",
                },
                {"name": "first-name", "type": "text", "xdm": {"type": "string"}},
                {"name": "email", "type": "text", "xdm": {"type": "string"}},
                {
                    "name": "updated_at",
                    "type": "timestamp",
                    "xdm": {"type": "string", "format": "date-time"},
                },
                {
                    "name": "tags",
                    "type": "text[]",
                    "xdm": {"type": "array", "items": {"type": "string"}},
                },
            ],
        },
        "mappings": [
            {"source": "id", "destination": "_id"},
            {"source": "first-name", "destination": "person.name.firstName"},
            {"source": "email", "destination": "personalEmail.address"},
        ],
        "delta_column": {"name": "updated_at"},
        "schedule": {"frequency": "minute", "interval": 15, "start_time": 1764400000},
    }
    data.update(changes)
    return DataflowRequested.model_validate(data)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("source", "crm customers (source) [crm-42]"),
        ("schema", "crm customers (schema) [crm-42]"),
        ("field group", "crm customers (field group) [crm-42]"),
        ("dataset", "crm customers (dataset) [crm-42]"),
        ("target", "crm customers (target) [crm-42]"),
        ("flow", "crm customers (flow) [crm-42]"),
    ],
)
def test_resource_names_follow_the_contract_form(kind: bodies.Kind, expected: str) -> None:
    assert bodies.resource_name(request(), kind) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("first_name", "first_name"),
        ("first-name", "first_name"),
        ("Straße", "Stra_e"),
        ("1st", "_1st"),
        ("a b.c", "a_b_c"),
        ("_x", "_x"),
    ],
)
def test_a_key_replaces_every_character_outside_the_safe_set(name: str, expected: str) -> None:
    assert bodies.key(name) == expected


@pytest.mark.parametrize(
    ("table", "expected"),
    [("public.customers", "customers"), ("db.sales.2024-orders", "_2024_orders"), ("t", "t")],
)
def test_the_table_key_leaves_out_the_schema_part(table: str, expected: str) -> None:
    assert bodies.table_key(table) == expected


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["a", "b"], ["a", "b"]),
        (["a-b", "a_b", "a.b"], ["a_b", "a_b_2", "a_b_3"]),
        (["x-1", "x_1", "x_1_2"], ["x_1", "x_1_2", "x_1_2_2"]),
    ],
)
def test_colliding_column_keys_get_numbered_suffixes(names: list[str], expected: list[str]) -> None:
    assert bodies.column_keys(names) == expected


def test_the_source_connection_is_tabular_with_typed_columns() -> None:
    body = bodies.source_connection_body(request())
    assert body["name"] == "crm customers (source) [crm-42]"
    assert body["baseConnectionId"] == "base-1"
    assert body["data"] == {"format": "tabular"}
    assert body["connectionSpec"] == {
        "id": "74a1c565-4e59-48d7-9d67-7c03b8a13137",
        "version": "1.0",
    }
    assert body["params"]["tableName"] == "public.customers"
    columns = body["params"]["columns"]
    assert columns[0] == {
        "name": "id",
        "type": "integer",
        "xdm": {"type": "integer"},
        "meta:xdmType": "int",
    }
    assert columns[3]["xdm"] == {"type": "string", "format": "date-time"}
    assert columns[4]["xdm"] == {"type": "array", "items": {"type": "string"}}


def test_an_auto_field_group_puts_the_columns_under_the_tenant_and_table() -> None:
    auto = request(mapping_mode="auto", mappings=[])
    body = bodies.field_group_body(auto, "acme")
    assert body["title"] == "crm customers (field group) [crm-42]"
    assert body["meta:intendedToExtend"] == ["https://ns.adobe.com/xdm/context/profile"]
    assert body["allOf"] == [{"$ref": "#/definitions/customers"}]
    tenant = body["definitions"]["customers"]["properties"]["_acme"]
    fields = tenant["properties"]["customers"]["properties"]
    assert list(fields) == ["id", "first_name", "email", "updated_at", "tags"]
    assert fields["id"] == {
        "title": "id",
        "type": "integer",
        "minimum": -2147483648,
        "maximum": 2147483647,
    }
    assert fields["updated_at"] == {"title": "updated_at", "type": "string", "format": "date-time"}
    assert fields["tags"]["items"] == {"type": "string"}


def test_auto_mappings_point_each_column_at_its_generated_field() -> None:
    auto = request(mapping_mode="auto", mappings=[])
    assert bodies.mapping_pairs(auto, "acme") == [
        ("id", "_acme.customers.id"),
        ("first-name", "_acme.customers.first_name"),
        ("email", "_acme.customers.email"),
        ("updated_at", "_acme.customers.updated_at"),
        ("tags", "_acme.customers.tags"),
    ]
    with pytest.raises(ValueError, match="tenant"):
        bodies.mapping_pairs(auto)


@pytest.mark.parametrize(
    ("destinations", "expected"),
    [
        (["_id"], []),
        (["person.name.firstName", "person.gender"], [PERSON]),
        (["workEmail.address", "personalEmail.address", "homeAddress.city"], [WORK, PERSONAL]),
        (
            ["mobilePhone.number", "workPhone.number", "person.name.lastName"],
            [PERSONAL, WORK, PERSON],
        ),
        (["identityMap", "_acme.x"], []),
    ],
)
def test_standard_field_groups_are_inferred_from_mapping_destinations(
    destinations: list[str], expected: list[str]
) -> None:
    assert bodies.inferred_field_groups(destinations) == expected


def test_a_schema_has_the_class_first_then_the_inferred_field_groups() -> None:
    body = bodies.schema_body(request())
    assert body["type"] == "object"
    assert body["title"] == "crm customers (schema) [crm-42]"
    assert [ref["$ref"] for ref in body["allOf"]] == [
        "https://ns.adobe.com/xdm/context/profile",
        PERSON,
        PERSONAL,
    ]


def test_a_schema_uses_the_requested_field_groups_title_and_the_generated_group() -> None:
    target = {
        "schema": {
            "class": "https://ns.adobe.com/xdm/context/profile",
            "field_groups": [WORK],
            "title": "Mine",
        }
    }
    body = bodies.schema_body(request(target=target), "https://ns.adobe.com/acme/mixins/abc")
    assert body["title"] == "Mine"
    assert [ref["$ref"] for ref in body["allOf"]][1:] == [
        WORK,
        "https://ns.adobe.com/acme/mixins/abc",
    ]


def test_the_dataset_and_target_connection_point_at_the_schema() -> None:
    dataset = bodies.dataset_body(request(), "https://ns.adobe.com/acme/schemas/s1")
    assert dataset["name"] == "crm customers (dataset) [crm-42]"
    assert dataset["schemaRef"] == {
        "id": "https://ns.adobe.com/acme/schemas/s1",
        "contentType": "application/vnd.adobe.xed+json;version=1",
    }
    target = bodies.target_connection_body(request(), "https://ns.adobe.com/acme/schemas/s1", "ds1")
    assert target["connectionSpec"]["id"] == "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
    assert target["data"]["schema"] == {
        "id": "https://ns.adobe.com/acme/schemas/s1",
        "version": "application/vnd.adobe.xed-full+json;version=1",
    }
    assert target["params"] == {"dataSetId": "ds1"}


def test_the_mapping_set_uses_the_output_schema_dialect() -> None:
    body = bodies.mapping_set_body(request(), "https://ns.adobe.com/acme/schemas/s1")
    assert body["outputSchema"]["schemaRef"]["id"] == "https://ns.adobe.com/acme/schemas/s1"
    assert body["mappings"][1] == {
        "sourceType": "ATTRIBUTE",
        "source": "first-name",
        "destination": "person.name.firstName",
    }
    assert "id" not in body


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"frequency": "once", "start_time": 5}, {"startTime": 5, "frequency": "once"}),
        (
            {"frequency": "minute", "interval": 15, "start_time": 5},
            {"startTime": 5, "frequency": "minute", "interval": "15"},
        ),
        (
            {"frequency": "day", "interval": 1, "start_time": 5, "backfill": False},
            {"startTime": 5, "frequency": "day", "interval": "1", "backfill": False},
        ),
    ],
)
def test_schedule_params_type_the_interval_as_the_spec_does(
    schedule: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert bodies.schedule_params(request(schedule=schedule)) == expected


def test_the_flow_copies_with_the_delta_column_then_maps() -> None:
    body = bodies.flow_body(
        request(delta_column={"name": "updated_at", "timezone": "Europe/Berlin"}),
        flow_spec_id="spec",
        source_connection_id="src",
        target_connection_id="tgt",
        mapping_id="map",
        mapping_version=0,
    )
    assert body["name"] == "crm customers (flow) [crm-42]"
    assert body["flowSpec"] == {"id": "spec", "version": "1.0"}
    assert (body["sourceConnectionIds"], body["targetConnectionIds"]) == (["src"], ["tgt"])
    copy, mapping = body["transformations"]
    assert copy == {
        "name": "Copy",
        "params": {
            "deltaColumn": {
                "name": "updated_at",
                "dateFormat": "yyyy-MM-dd HH:mm:ss",
                "timezone": "Europe/Berlin",
            }
        },
    }
    assert mapping == {"name": "Mapping", "params": {"mappingId": "map", "mappingVersion": "0"}}

"""The committed JSON Schemas and AsyncAPI document match the models and describe the contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from messages import (
    DataflowDeletionRequested,
    DataflowRequested,
    InvalidMessageError,
    asyncapi,
    dataschema_for,
    decode,
)
from messages.asyncapi import ROUTING_KEYS
from messages.export import PACKAGE, drifted, rendered, write

EXAMPLES = PACKAGE / "examples"


def schema(name: str) -> dict[str, Any]:
    """A committed JSON Schema by file name."""
    loaded: dict[str, Any] = json.loads((PACKAGE / "schemas" / name).read_text())
    return loaded


def test_the_committed_files_match_the_models() -> None:
    assert drifted() == [], "run `make schemas` and commit the result"


def test_drift_is_detected_and_rewriting_repairs_it(tmp_path: Path) -> None:
    write(tmp_path)
    assert drifted(tmp_path) == []
    (tmp_path / "schemas" / "StepCompleted.json").write_text("{}\n")
    (tmp_path / "asyncapi.yaml").unlink()
    assert sorted(drifted(tmp_path)) == ["asyncapi.yaml", "schemas/StepCompleted.json"]


def test_every_type_has_a_data_schema_named_by_its_dataschema() -> None:
    for event_type in ROUTING_KEYS:
        data = schema(f"{event_type}.json")
        Draft202012Validator.check_schema(data)
        assert data["$id"] == dataschema_for(event_type)
    assert schema("DataflowRequested.json")["$id"] == "urn:dataflow-worker:DataflowRequested:2"
    assert schema("StepCompleted.json")["$id"] == "urn:dataflow-worker:StepCompleted:2"


def test_the_tutorial_example_is_valid_against_the_request_schema() -> None:
    example = json.loads((EXAMPLES / "tutorial-bigquery.json").read_text())
    Draft202012Validator(schema("DataflowRequested.json")).validate(example)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("request_id", "crm 42"),
        ("mapping_mode", "magic"),
        ("surprise", 1),
        ("schedule", {}),
        ("schedule", {"frequency": "minute", "interval": 10, "start_time": 1}),
        ("schedule", {"frequency": "once", "interval": 15, "start_time": 1}),
        ("schedule", {"frequency": "once", "backfill": True, "start_time": 1}),
        ("schedule", {"frequency": "day", "start_time": 1}),
        ("mappings", []),
        ("source", {"connector": "x", "base_connection_id": "b", "table": "t", "columns": []}),
        (
            "source",
            {"connector": "mongodb", "base_connection_id": "b", "table": "t", "columns": []},
        ),
    ],
)
def test_the_request_schema_refuses_what_the_model_refuses(field: str, value: Any) -> None:
    example = json.loads((EXAMPLES / "tutorial-bigquery.json").read_text())
    example[field] = value
    assert not Draft202012Validator(schema("DataflowRequested.json")).is_valid(example)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("schedule", {"frequency": "once", "start_time": 1}),
        ("schedule", {"frequency": "hour", "interval": 1, "start_time": 1, "backfill": False}),
        ("mapping_mode", "auto"),
    ],
)
def test_the_request_schema_accepts_what_the_model_accepts(field: str, value: Any) -> None:
    example = json.loads((EXAMPLES / "tutorial-bigquery.json").read_text())
    example[field] = value
    if field == "mapping_mode":
        example["mappings"] = []
    DataflowRequested.model_validate(example)
    Draft202012Validator(schema("DataflowRequested.json")).validate(example)


@pytest.mark.parametrize(
    ("connector", "valid"),
    [
        ("mariadb", True),
        ("3000eb99-cd47-43f3-827c-43caf170f015", True),
        ("000eb99-cd47-43f3-827c-43caf170f015", False),
        ("mongodb", False),
    ],
)
def test_the_request_schema_lists_the_connectors(connector: str, valid: bool) -> None:
    example = json.loads((EXAMPLES / "tutorial-bigquery.json").read_text())
    example["source"]["connector"] = connector
    assert Draft202012Validator(schema("DataflowRequested.json")).is_valid(example) is valid


def test_the_request_schema_knows_where_formats_and_items_belong() -> None:
    example = json.loads((EXAMPLES / "tutorial-bigquery.json").read_text())
    validator = Draft202012Validator(schema("DataflowRequested.json"))
    column = example["source"]["columns"][0]
    for xdm, valid in [
        ({"type": "number", "format": "date"}, False),
        ({"type": "array"}, False),
        ({"type": "string", "items": {"type": "string"}}, False),
        ({"type": "array", "items": {"type": "string", "format": "date"}}, True),
    ]:
        column["xdm"] = xdm
        assert validator.is_valid(example) is valid, xdm


def test_the_example_event_decodes_and_fits_its_event_schema() -> None:
    body = (EXAMPLES / "tutorial-bigquery.event.json").read_bytes()
    event = decode(body)
    assert isinstance(event.data, DataflowRequested)
    assert event.data == DataflowRequested.model_validate(
        json.loads((EXAMPLES / "tutorial-bigquery.json").read_text())
    )
    Draft202012Validator(schema("DataflowRequested.event.json")).validate(json.loads(body))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.event.json")), ids=lambda p: p.name)
def test_every_example_event_decodes_and_fits_its_event_schema(path: Path) -> None:
    event = decode(path.read_bytes())  # the tutorial's own request stays at version 1
    assert event.dataschema == dataschema_for(event.type, event.version)
    Draft202012Validator(schema(f"{event.type}.event.json")).validate(json.loads(path.read_text()))


def test_the_deletion_example_fits_its_schema_and_is_its_events_data() -> None:
    example = json.loads((EXAMPLES / "tutorial-bigquery-delete.json").read_text())
    Draft202012Validator(schema("DataflowDeletionRequested.json")).validate(example)
    event = decode((EXAMPLES / "tutorial-bigquery-delete.event.json").read_bytes())
    assert event.data == DataflowDeletionRequested.model_validate(example)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("dataschema", "urn:dataflow-worker:DataflowRequested:3"),
        ("dataschema", "urn:dataflow-worker:StepCompleted:1"),
        ("Trace_Parent", "x"),
        ("type", "StepCompleted"),
    ],
)
def test_the_event_schema_refuses_what_decode_refuses(attribute: str, value: str) -> None:
    event = json.loads((EXAMPLES / "tutorial-bigquery.event.json").read_text())
    event[attribute] = value
    assert not Draft202012Validator(schema("DataflowRequested.event.json")).is_valid(event)
    with pytest.raises(InvalidMessageError):
        decode(json.dumps(event).encode())


@pytest.mark.parametrize(
    ("dataschema", "valid"),
    [
        ("urn:dataflow-worker:DataflowRequested:2", True),
        (None, True),
        ("urn:dataflow-worker:DataflowRequested:1", False),
    ],
)
def test_the_version_2_fields_need_version_2_in_the_schema_as_in_decode(
    dataschema: str | None, valid: bool
) -> None:
    event = json.loads((EXAMPLES / "tutorial-bigquery-revision-2.event.json").read_text())
    event["dataschema"] = dataschema
    if dataschema is None:
        del event["dataschema"]
    validator = Draft202012Validator(schema("DataflowRequested.event.json"))
    assert validator.is_valid(event) is valid
    for field in ("revision", "enabled"):
        alone = {**event, "data": {k: v for k, v in event["data"].items() if k != field}}
        assert validator.is_valid(alone) is valid
    try:
        decode(json.dumps(event).encode())
    except InvalidMessageError:
        assert not valid
    else:
        assert valid


def test_the_asyncapi_document_describes_the_contracts_topology() -> None:
    document = yaml.safe_load(rendered()["asyncapi.yaml"])
    assert document["asyncapi"].startswith("3.")
    channels = document["channels"]
    addresses = {c["address"]: c["bindings"]["amqp"] for c in channels.values()}
    assert addresses["dataflow.requests"]["is"] == "queue"
    assert addresses["dataflow.dead"]["queue"]["durable"] is True
    assert addresses["dataflow.requested"]["exchange"]["name"] == "dataflow.commands"
    assert addresses["dataflow.deletion_requested"]["exchange"]["name"] == "dataflow.commands"
    assert channels["requests"]["description"].startswith(
        "Quorum queue bound to dataflow.commands with dataflow.requested and"
        " dataflow.deletion_requested;"
    )
    assert set(channels["requests"]["messages"]) == {
        "DataflowRequested",
        "DataflowDeletionRequested",
    }
    for key in (
        "dataflow.step_completed",
        "dataflow.created",
        "dataflow.updated",
        "dataflow.deleted",
        "dataflow.failed",
        "dataflow.run_completed",
    ):
        assert addresses[key]["exchange"] == {
            "name": "dataflow.events",
            "type": "topic",
            "durable": True,
            "autoDelete": False,
            "vhost": "/",
        }
    actions = {op["action"] for op in document["operations"].values()}
    assert actions == {"send", "receive"}
    for name, message in document["components"]["messages"].items():
        assert message["contentType"] == "application/cloudevents+json"
        assert message["bindings"]["amqp"]["messageType"] == name
        reference = message["payload"]["$ref"].removeprefix("#/components/schemas/")
        assert reference in document["components"]["schemas"]


def test_the_asyncapi_operations_send_and_receive_both_commands_and_every_event() -> None:
    operations = yaml.safe_load(rendered()["asyncapi.yaml"])["operations"]

    def sent(name: str) -> tuple[str, str, list[str]]:
        operation = operations[name]
        messages = [m["$ref"].rsplit("/", 1)[1] for m in operation["messages"]]
        return operation["action"], operation["channel"]["$ref"], messages

    assert sent("sendDeletionRequest") == (
        "send",
        "#/channels/deletionRequested",
        ["DataflowDeletionRequested"],
    )
    assert sent("receiveRequest") == (
        "receive",
        "#/channels/requests",
        ["DataflowRequested", "DataflowDeletionRequested"],
    )
    assert sent("sendDataflowUpdated") == (
        "send",
        "#/channels/dataflowUpdated",
        ["DataflowUpdated"],
    )
    assert sent("sendDataflowDeleted") == (
        "send",
        "#/channels/dataflowDeleted",
        ["DataflowDeleted"],
    )


def test_the_asyncapi_names_agree_with_the_workers_topology() -> None:
    topology = pytest.importorskip("worker.broker.topology")
    default = topology.Topology()
    assert default.commands_exchange == asyncapi.COMMANDS_EXCHANGE
    assert default.events_exchange == asyncapi.EVENTS_EXCHANGE
    assert default.requests_queue == asyncapi.REQUESTS_QUEUE
    assert default.dead_queue == asyncapi.DEAD_QUEUE
    assert ROUTING_KEYS == {**topology.COMMAND_KEYS, **topology.EVENT_KEYS}


def test_every_reference_in_the_asyncapi_document_resolves() -> None:
    document = yaml.safe_load(rendered()["asyncapi.yaml"])
    references = _references(document)
    assert references, "the document refers to no schema"
    for reference in references:
        node: Any = document
        for part in reference.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), reference


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [r for inner in value.values() for r in _references(inner)]
    if isinstance(value, list):
        return [r for inner in value for r in _references(inner)]
    return []

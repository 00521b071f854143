"""The commands' data enforce the rules of contract 2.1 and 2.4; violations come all at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from messages import (
    MAX_REVISION,
    PROFILE_CLASS,
    STEPS,
    DataflowDeletionRequested,
    DataflowFailed,
    DataflowRequested,
    DeltaColumn,
    FailureError,
    InvalidMessageError,
    validate_request,
)

Edit = Callable[[dict[str, Any]], None]


def violations(data: dict[str, Any]) -> dict[str, str]:
    """The violations of a request's data, by path."""
    with pytest.raises(InvalidMessageError) as caught:
        validate_request(data)
    return {v.path: v.message for v in caught.value.fields}


def test_the_tutorial_example_validates(tutorial: dict[str, Any]) -> None:
    request = DataflowRequested.model_validate(tutorial)
    assert request.source.table == "test1.Mytable"
    assert request.source.column_names == ["TestID", "Name", "Datefield"]
    assert request.source.connection_spec_id == "3c9b37f8-13a6-43d8-bad3-b863b941fedd"
    assert [(m.source, m.destination) for m in request.mappings] == [
        ("TestID", "_id"),
        ("Name", "person.name.fullName"),
        ("Datefield", "person.birthDate"),
    ]
    assert (request.schedule.frequency, request.schedule.interval) == ("minute", 15)
    assert request.delta_column.name == "Datefield"


def test_defaults_are_the_contracts(tutorial: dict[str, Any]) -> None:
    request = DataflowRequested.model_validate(tutorial)
    assert request.delta_column.date_format == "yyyy-MM-dd HH:mm:ss"
    assert request.delta_column.timezone == "UTC"
    assert request.flow_spec_name == "CRMToAEP"
    assert request.on_failure == "keep"
    assert request.mapping_mode == "explicit"
    assert request.follow_runs is None
    assert request.sandbox is None
    assert request.target.schema_id is None
    assert request.target.schema_.class_ == PROFILE_CLASS
    assert request.target.schema_.field_groups == []
    assert (request.revision, request.enabled) == (1, True)


def test_the_wire_form_uses_the_contracts_names_class_and_schema(tutorial: dict[str, Any]) -> None:
    tutorial["target"] = {"schema": {"class": "https://ns.adobe.com/xdm/context/profile"}}
    dumped = DataflowRequested.model_validate(tutorial).model_dump(mode="json", by_alias=True)
    assert dumped["target"]["schema"]["class"] == PROFILE_CLASS
    assert "schema_" not in dumped["target"]


def _set(path: str, value: Any) -> Edit:
    """An edit that sets one dotted path (list indices as numbers) in the data."""

    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return edit


REJECTIONS: list[tuple[str, Edit, str, str]] = [
    ("minute with interval 10", _set("schedule.interval", 10), "schedule.interval", ">= 15"),
    (
        "once with an interval",
        _set("schedule", {"frequency": "once", "interval": 15, "start_time": 1}),
        "schedule.interval",
        "once",
    ),
    (
        "once with backfill",
        _set("schedule", {"frequency": "once", "backfill": True, "start_time": 1}),
        "schedule.backfill",
        "once",
    ),
    (
        "hour with interval 0",
        _set("schedule", {"frequency": "hour", "interval": 0, "start_time": 1}),
        "schedule.interval",
        "greater than or equal to 1",
    ),
    (
        "day without an interval",
        _set("schedule", {"frequency": "day", "start_time": 1}),
        "schedule.interval",
        "needs an interval",
    ),
    (
        "a delta column that is no column",
        _set("delta_column.name", "Updated"),
        "delta_column.name",
        "'Updated' is not a column",
    ),
    (
        "a mapping from no column",
        _set("mappings.1.source", "FullName"),
        "mappings[1].source",
        "'FullName' is not a column",
    ),
    (
        "an unknown connector",
        _set("source.connector", "mongodb"),
        "source.connector",
        "postgresql, mysql, mariadb",
    ),
    (
        "the misprinted MariaDB id",
        _set("source.connector", "000eb99-cd47-43f3-827c-43caf170f015"),
        "source.connector",
        "3000eb99-cd47-43f3-827c-43caf170f015",
    ),
    ("an unknown field in data", _set("follow_run", True), "follow_run", "Extra inputs"),
    ("an unknown nested field", _set("schedule.every", 5), "schedule.every", "Extra inputs"),
    ("a request_id with a space", _set("request_id", "crm 42"), "request_id", "pattern"),
    ("a request_id of 129 characters", _set("request_id", "x" * 129), "request_id", "pattern"),
    ("an empty name", _set("name", ""), "name", "at least 1"),
    ("a name with a newline", _set("name", "a\nb"), "name", "printable"),
    ("a name of 101 characters", _set("name", "n" * 101), "name", "at most 100"),
    ("an uppercase sandbox", _set("sandbox", "Prod"), "sandbox", "pattern"),
    ("no columns", _set("source.columns", []), "source.columns", "at least 1"),
    (
        "an unknown xdm type",
        _set("source.columns.0.xdm.type", "text"),
        "source.columns[0].xdm.type",
        "'string'",
    ),
    (
        "a format on a number",
        _set("source.columns.0.xdm", {"type": "number", "format": "date"}),
        "source.columns[0].xdm.format",
        "strings only",
    ),
    (
        "an array without items",
        _set("source.columns.0.xdm", {"type": "array"}),
        "source.columns[0].xdm.items",
        "needs items",
    ),
    (
        "a duplicate column",
        _set("source.columns.1.name", "TestID"),
        "source.columns[1].name",
        "twice",
    ),
    (
        "an unknown meta xdm type",
        _set("source.columns.0.meta_xdm_type", "float"),
        "source.columns[0].meta_xdm_type",
        "'int'",
    ),
    (
        "a destination that is no XDM path",
        _set("mappings.0.destination", "person..name"),
        "mappings[0].destination",
        "pattern",
    ),
    (
        "two mappings to one destination",
        _set("mappings.1.destination", "_id"),
        "mappings[1].destination",
        "earlier mapping",
    ),
    ("explicit mode without mappings", _set("mappings", []), "mappings", "required unless"),
    ("auto mode with mappings", _set("mapping_mode", "auto"), "mappings", "give none"),
    ("an unknown on_failure", _set("on_failure", "delete"), "on_failure", "'keep'"),
    (
        "a negative start time",
        _set("schedule.start_time", -1),
        "schedule.start_time",
        "greater than or equal",
    ),
    ("revision 0", _set("revision", 0), "revision", "greater than or equal to 1"),
    ("a negative revision", _set("revision", -3), "revision", "greater than or equal to 1"),
    ("a revision past 2**53 - 1", _set("revision", 2**53), "revision", "less than or equal"),
    ("a fractional revision", _set("revision", 1.5), "revision", "integer"),
    ("a revision as words", _set("revision", "two"), "revision", "integer"),
    ("enabled as words", _set("enabled", "perhaps"), "enabled", "boolean"),
    ("enabled null", _set("enabled", None), "enabled", "boolean"),
    (
        "schema_id and schema both",
        _set("target", {"schema_id": "s", "schema": {"title": "t"}}),
        "target.schema",
        "not both",
    ),
]


@pytest.mark.parametrize(
    ("case", "edit", "path", "fragment"), REJECTIONS, ids=[row[0] for row in REJECTIONS]
)
def test_a_broken_rule_is_rejected_with_its_field_path(
    tutorial: dict[str, Any], case: str, edit: Edit, path: str, fragment: str
) -> None:
    edit(tutorial)
    found = violations(tutorial)
    assert path in found, f"{case}: {found}"
    assert fragment in found[path]


def test_an_unknown_connector_error_lists_every_valid_name(tutorial: dict[str, Any]) -> None:
    tutorial["source"]["connector"] = "mongodb"
    message = violations(tutorial)["source.connector"]
    for name in ("postgresql", "sql-server", "azure-table-storage", "databricks", "cassandra"):
        assert name in message


def test_every_violation_of_one_request_is_reported_together(tutorial: dict[str, Any]) -> None:
    tutorial["request_id"] = "crm 42"
    tutorial["schedule"]["interval"] = 10
    tutorial["delta_column"]["name"] = "Updated"
    tutorial["mappings"][2]["source"] = "Birthday"
    tutorial["source"]["connector"] = "mongodb"
    tutorial["surprise"] = 1
    assert set(violations(tutorial)) == {
        "request_id",
        "schedule.interval",
        "delta_column.name",
        "mappings[2].source",
        "source.connector",
        "surprise",
    }


def test_cross_field_rules_hold_when_requests_are_built_from_models(
    tutorial: dict[str, Any],
) -> None:
    request = DataflowRequested.model_validate(tutorial)
    with pytest.raises(ValueError, match=r"delta_column\.name"):
        DataflowRequested(
            request_id=request.request_id,
            name=request.name,
            source=request.source,
            mappings=request.mappings,
            delta_column=DeltaColumn(name="Elsewhere"),
            schedule=request.schedule,
        )


@pytest.mark.parametrize(
    ("connector", "spec_id"),
    [
        ("mariadb", "3000eb99-cd47-43f3-827c-43caf170f015"),
        ("3000eb99-cd47-43f3-827c-43caf170f015", "3000eb99-cd47-43f3-827c-43caf170f015"),
        ("postgresql", "74a1c565-4e59-48d7-9d67-7c03b8a13137"),
        ("38ad80fe-8b06-4938-94f4-d4ee80266b07", "38ad80fe-8b06-4938-94f4-d4ee80266b07"),
    ],
)
def test_a_connector_given_by_name_or_spec_id_resolves_to_its_spec_id(
    tutorial: dict[str, Any], connector: str, spec_id: str
) -> None:
    tutorial["source"]["connector"] = connector
    assert DataflowRequested.model_validate(tutorial).source.connection_spec_id == spec_id


@pytest.mark.parametrize(
    "schedule",
    [
        {"frequency": "once", "start_time": 0},
        {"frequency": "minute", "interval": 15, "start_time": 1, "backfill": False},
        {"frequency": "hour", "interval": 1, "start_time": 1},
        {"frequency": "week", "interval": 2, "start_time": 1},
    ],
)
def test_schedules_within_the_rules_are_accepted(
    tutorial: dict[str, Any], schedule: dict[str, Any]
) -> None:
    tutorial["schedule"] = schedule
    assert DataflowRequested.model_validate(tutorial).schedule.frequency == schedule["frequency"]


def test_auto_mode_needs_no_mappings(tutorial: dict[str, Any]) -> None:
    tutorial["mapping_mode"] = "auto"
    tutorial["mappings"] = []
    assert DataflowRequested.model_validate(tutorial).mappings == []


def test_an_array_column_with_items_is_accepted(tutorial: dict[str, Any]) -> None:
    tutorial["source"]["columns"].append(
        {"name": "Tags", "type": "text[]", "xdm": {"type": "array", "items": {"type": "string"}}}
    )
    column = DataflowRequested.model_validate(tutorial).source.columns[-1]
    assert column.xdm.items is not None
    assert column.xdm.items.type == "string"


def test_the_models_are_frozen(tutorial: dict[str, Any]) -> None:
    request = DataflowRequested.model_validate(tutorial)
    with pytest.raises(ValueError, match="frozen"):
        request.name = "other"  # type: ignore[misc]


def test_the_steps_are_the_contracts_in_order() -> None:
    assert STEPS == (
        "source_connection",
        "target_schema",
        "target_dataset",
        "target_connection",
        "mapping_set",
        "flow_spec",
        "dataflow",
        "field_group",
        "flow_state",
    )


def test_a_failure_may_name_an_unreadable_request_id() -> None:
    failed = DataflowFailed(
        request_id="crm 42",
        error=FailureError(kind="invalid_message", message="request_id: pattern"),
    )
    assert failed.step is None
    assert failed.created == {}
    assert failed.rolled_back == []


def test_a_revision_up_to_the_largest_exact_json_integer_is_accepted(
    tutorial: dict[str, Any],
) -> None:
    tutorial.update(revision=MAX_REVISION, enabled=False)
    request = DataflowRequested.model_validate(tutorial)
    assert (request.revision, request.enabled) == (2**53 - 1, False)


def test_a_deletion_names_a_request_and_may_say_why() -> None:
    assert DataflowDeletionRequested(request_id="crm-42").reason is None
    reason = "the table moved to the new CRM: ü, 100 %"
    assert DataflowDeletionRequested(request_id="crm-42", reason=reason).reason == reason


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        ({}, "request_id", "Field required"),
        ({"request_id": "crm 42"}, "request_id", "pattern"),
        ({"request_id": "x" * 129}, "request_id", "pattern"),
        ({"request_id": "crm-42", "reason": ""}, "reason", "at least 1"),
        ({"request_id": "crm-42", "reason": "r" * 1001}, "reason", "at most 1000"),
        ({"request_id": "crm-42", "reason": "moved\nto the new CRM"}, "reason", "printable"),
        ({"request_id": "crm-42", "reason": "tab\there"}, "reason", "printable"),
        ({"request_id": "crm-42", "revision": 2}, "revision", "Extra inputs"),
    ],
)
def test_a_deletion_refuses_what_the_contract_refuses(
    data: dict[str, Any], path: str, fragment: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        DataflowDeletionRequested.model_validate(data)
    errors = {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}
    assert fragment in errors[path]

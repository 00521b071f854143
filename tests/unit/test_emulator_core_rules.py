"""Flow Service's pure rules: property filters, limits, JSON Patch, schedules, transformations."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.filters import (
    Condition,
    QueryError,
    matches,
    order,
    parse_limit,
    parse_property,
    select,
)
from emulator.flowrules import (
    coerce_schedule,
    mapping_params,
    missing_fields,
    schedule_problems,
    start_time_problem,
    transformation_problems,
)
from emulator.jsonpatch import PatchError, apply_patch

FLOW: dict[str, Any] = {
    "id": "f1",
    "name": "CRMToAEP",
    "state": "enabled",
    "createdAt": 1000,
    "enabled": True,
    "sourceConnectionIds": ["s1", "s2"],
    "params": {"tableName": "crm.lead"},
    "inheritedAttributes": {"sourceConnections": [{"id": "s1"}, {"id": "s2"}]},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('name=="CRMToAEP"', Condition(("name",), "==", ("CRMToAEP",))),
        ("name==CRMToAEP", Condition(("name",), "==", ("CRMToAEP",))),
        ("name=='CRMToAEP'", Condition(("name",), "==", ("CRMToAEP",))),
        ("id==a,b", Condition(("id",), "==", ("a", "b"))),
        ("params.tableName==lead", Condition(("params", "tableName"), "==", ("lead",))),
        ("sourceConnectionIds[]==x", Condition(("sourceConnectionIds",), "==", ("x",))),
        ("createdAt>=5", Condition(("createdAt",), ">=", ("5",))),
        ("state!=disabled", Condition(("state",), "!=", ("disabled",))),
        ("description", Condition(("description",), "present")),
        ("!description", Condition(("description",), "absent")),
    ],
)
def test_a_property_expression_parses(expression: str, expected: Condition) -> None:
    assert parse_property(expression) == expected


@pytest.mark.parametrize(
    ("expression", "code"),
    [("name~abc", 1440), ("createdAt!>5", 1450), ("createdAt<=1,2", 1443), ("==x", 1400)],
)
def test_a_property_expression_the_service_refuses_has_its_code(expression: str, code: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_property(expression)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("expression", "matched"),
    [
        ('name=="CRMToAEP"', True),
        ("name==other", False),
        ("name==other,CRMToAEP", True),
        ("state==enabled", True),
        ("enabled==true", True),
        ("params.tableName==crm.lead", True),
        ("sourceConnectionIds[]==s2", True),
        ("sourceConnectionIds==s3", False),
        ("inheritedAttributes.sourceConnections.id==s2", True),
        ("createdAt>999", True),
        ("createdAt<1000", False),
        ("createdAt<=1000", True),
        ("state!=enabled", False),
        ("state!=disabled", True),
        ("params", True),
        ("!params", False),
        ("description", False),
    ],
)
def test_a_condition_matches_a_flow_as_the_service_does(expression: str, matched: bool) -> None:
    assert matches(FLOW, parse_property(expression)) is matched


def test_repeated_conditions_must_all_hold() -> None:
    items = [{"name": "a", "state": "enabled"}, {"name": "a", "state": "disabled"}]
    conditions = [parse_property("name==a"), parse_property("state==enabled")]
    assert select(items, conditions) == [items[0]]


@pytest.mark.parametrize(("value", "limit"), [(None, None), ("", None), ("5", 5)])
def test_a_valid_limit_parses(value: str | None, limit: int | None) -> None:
    assert parse_limit(value) == limit


@pytest.mark.parametrize("value", ["0", "-1", "ten"])
def test_an_invalid_limit_is_refused(value: str) -> None:
    with pytest.raises(QueryError):
        parse_limit(value)


def test_orderby_sorts_ascending_descending_and_refuses_unknown_fields() -> None:
    items = [{"name": "b"}, {"name": "a"}, {"name": "c"}]
    assert [i["name"] for i in order(items, "name")] == ["a", "b", "c"]
    assert [i["name"] for i in order(items, "+name")] == ["a", "b", "c"]
    assert [i["name"] for i in order(items, "-name")] == ["c", "b", "a"]
    assert order(items, None) == items
    with pytest.raises(QueryError) as caught:
        order(items, "colour")
    assert caught.value.code == 1432


def test_a_patch_replaces_adds_and_removes_without_touching_the_original() -> None:
    original = {"name": "a", "scheduleParams": {"interval": 15}, "tags": ["x"]}
    patched = apply_patch(
        original,
        [
            {"op": "replace", "path": "/name", "value": "b"},
            {"op": "REPLACE", "path": "/scheduleParams/interval", "value": 30},
            {"op": "add", "path": "/tags/-", "value": "y"},
            {"op": "add", "path": "/description", "value": "d"},
            {"op": "remove", "path": "/tags/0"},
        ],
    )
    assert patched == {
        "name": "b",
        "scheduleParams": {"interval": 30},
        "tags": ["y"],
        "description": "d",
    }
    assert original["name"] == "a"


@pytest.mark.parametrize(
    "operations",
    [
        [],
        {"op": "replace"},
        [{"op": "move", "path": "/name", "value": 1}],
        [{"op": "replace", "path": "/nothing", "value": 1}],
        [{"op": "replace", "path": "/id", "value": "x"}],
        [{"op": "replace", "path": "name", "value": "x"}],
        [{"op": "add", "path": "/name"}],
        [{"op": "remove", "path": "/tags/9"}],
    ],
)
def test_a_patch_that_cannot_apply_is_refused(operations: Any) -> None:
    with pytest.raises(PatchError):
        apply_patch({"name": "a", "id": "i", "tags": []}, operations)


def test_schedule_strings_are_coerced_as_the_tutorial_sends_them() -> None:
    sent = {"startTime": "1612310466", "frequency": "minute", "interval": "15", "backfill": "true"}
    assert coerce_schedule(sent) == {
        "startTime": 1612310466,
        "frequency": "minute",
        "interval": 15,
        "backfill": True,
    }


@pytest.mark.parametrize(
    ("schedule", "valid"),
    [
        ({"startTime": 1, "frequency": "once"}, True),
        ({"startTime": 1, "frequency": "once", "interval": 1}, False),
        ({"startTime": 1, "frequency": "once", "backfill": True}, False),
        ({"startTime": 1, "frequency": "minute", "interval": 15}, True),
        ({"startTime": 1, "frequency": "minute", "interval": 14}, False),
        ({"startTime": 1, "frequency": "hour", "interval": 1}, True),
        ({"startTime": 1, "frequency": "day", "interval": 0}, False),
        ({"startTime": 1, "frequency": "week"}, False),
        ({"startTime": 1, "frequency": "month", "interval": 1}, False),
        ({"frequency": "once"}, False),
        ({"startTime": "soon", "frequency": "once"}, False),
        ({"startTime": 1, "frequency": "hour", "interval": 2, "backfill": "yes"}, False),
        ({"startTime": 1, "frequency": "hour", "interval": "2"}, False),
        ("daily", False),
    ],
)
def test_a_schedule_follows_the_flow_specs_schedule_spec(schedule: Any, valid: bool) -> None:
    assert (schedule_problems(schedule) == []) is valid


@pytest.mark.parametrize(
    ("before", "after", "allowed"),
    [
        ({"startTime": 100}, {"startTime": 100, "frequency": "hour"}, True),  # unchanged
        ({"startTime": "100"}, {"startTime": 100}, True),  # the same time, as a string before
        ({"startTime": 100}, {"startTime": 200}, False),  # the start (100) has passed at 150
        ({"startTime": 150}, {"startTime": 200}, False),  # the start is now
        ({"startTime": 300}, {"startTime": 200}, True),  # still ahead: it may move
        ({"startTime": 100}, {}, False),  # removed after the start
        ({}, {"startTime": 200}, True),  # a flow without a schedule gains one
        (None, {"startTime": 200}, True),
    ],
)
def test_a_start_time_moves_only_while_the_scheduled_start_is_ahead(
    before: Any, after: dict[str, Any], allowed: bool
) -> None:
    assert (start_time_problem(before, after, 150.0) is None) is allowed


@pytest.mark.parametrize(
    ("transformations", "problem"),
    [
        ([{"name": "Copy", "params": {"deltaColumn": {"name": "updated"}}}], None),
        ([{"name": "Copy", "params": {"deltaColumn": {}}}], "deltaColumn.name is required"),
        ([{"name": "Copy", "params": {}}], "deltaColumn is required"),
        ([{"name": "Copy"}], "params is required"),
        ([{"name": "Mapping", "params": {"mappingVersion": 0}}], "mappingId is required"),
        ([{"name": "Explode", "params": {}}], "not in the flow spec"),
        ([{"params": {}}], "name is required"),
        ("Copy", "must be a list"),
    ],
)
def test_transformations_are_checked_against_the_flow_spec(
    transformations: Any, problem: str | None
) -> None:
    problems = transformation_problems(transformations, ["Copy", "Mapping"])
    if problem is None:
        assert problems == []
    else:
        assert problem in problems[0]


def test_the_mapping_params_are_found_among_the_transformations() -> None:
    transformations = [{"name": "Copy", "params": {}}, {"name": "Mapping", "params": {"a": 1}}]
    assert mapping_params(transformations) == {"a": 1}
    assert mapping_params([{"name": "Copy", "params": {}}]) is None


def test_missing_fields_names_every_absent_dotted_path() -> None:
    body = {"name": "", "flowSpec": {"id": "x"}, "sourceConnectionIds": []}
    paths = ("name", "flowSpec.id", "flowSpec.version", "sourceConnectionIds")
    assert missing_fields(body, paths) == ["name", "flowSpec.version", "sourceConnectionIds"]

"""The step plan, its dependencies and the rollback order: pure tables."""

from __future__ import annotations

from typing import Any

import pytest

from messages.models import DataflowRequested
from tests.integration.samples import sample_request
from worker.core.steps import DEPENDENCIES, Removal, Step, next_step, plan, reuses, rollback_plan

EXPLICIT = (
    Step.FLOW_SPEC,
    Step.SOURCE_CONNECTION,
    Step.TARGET_SCHEMA,
    Step.TARGET_DATASET,
    Step.TARGET_CONNECTION,
    Step.MAPPING_SET,
    Step.DATAFLOW,
)


def _request(**changes: Any) -> DataflowRequested:
    return DataflowRequested.model_validate(sample_request("crm-1", "base-1", **changes))


@pytest.mark.parametrize(
    ("auto", "expected"),
    [
        (False, EXPLICIT),
        (True, (*EXPLICIT[:2], Step.FIELD_GROUP, *EXPLICIT[2:])),
    ],
)
def test_the_plan_checks_the_flow_spec_first_and_has_a_field_group_only_in_auto_mode(
    auto: bool, expected: tuple[Step, ...]
) -> None:
    assert plan(auto_mapping=auto) == expected


@pytest.mark.parametrize("auto", [False, True])
def test_every_step_of_the_plan_comes_after_its_dependencies(auto: bool) -> None:
    steps = plan(auto_mapping=auto)
    for index, step in enumerate(steps):
        earlier = set(steps[:index])
        assert {dep for dep in DEPENDENCIES[step] if dep in steps} <= earlier


@pytest.mark.parametrize(
    ("done", "expected"),
    [
        ((), Step.FLOW_SPEC),
        (("flow_spec",), Step.SOURCE_CONNECTION),
        (("flow_spec", "source_connection", "target_schema"), Step.TARGET_DATASET),
        ([step.value for step in EXPLICIT[:-1]], Step.DATAFLOW),
        ([step.value for step in EXPLICIT], None),
    ],
)
def test_the_next_step_is_the_first_one_not_done(
    done: tuple[str, ...], expected: Step | None
) -> None:
    assert next_step(EXPLICIT, done) == expected


@pytest.mark.parametrize(
    ("target", "step", "expected"),
    [
        ({}, Step.FLOW_SPEC, True),
        ({}, Step.TARGET_SCHEMA, False),
        ({"schema_id": "https://ns.adobe.com/t/schemas/1"}, Step.TARGET_SCHEMA, True),
        ({"schema_id": "https://ns.adobe.com/t/schemas/1"}, Step.TARGET_DATASET, False),
        ({"schema_id": "s", "dataset_id": "d"}, Step.TARGET_DATASET, True),
        ({"schema_id": "s", "dataset_id": "d"}, Step.SOURCE_CONNECTION, False),
    ],
)
def test_supplied_ids_and_the_flow_spec_are_reused_not_created(
    target: dict[str, str], step: Step, expected: bool
) -> None:
    assert reuses(step, _request(target=target)) is expected


def test_rollback_removes_newest_first_and_keeps_mapping_sets_as_undeletable() -> None:
    created = {
        "flow_spec": "spec",
        "source_connection": "src",
        "target_schema": "schema",
        "mapping_set": "map",
        "target_dataset": "ds",
    }
    assert rollback_plan(created, EXPLICIT) == (
        Removal(Step.MAPPING_SET, "map", deletable=False),
        Removal(Step.TARGET_DATASET, "ds", deletable=True),
        Removal(Step.TARGET_SCHEMA, "schema", deletable=True),
        Removal(Step.SOURCE_CONNECTION, "src", deletable=True),
    )

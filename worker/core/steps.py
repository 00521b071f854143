"""Step names, their dependencies and order, and what to do next: pure.

A request is executed as a fixed plan of steps (contract 2.2). The flow spec and the connector are
checked first, then each resource is created once its inputs exist, independent ones side by side:
the source connection beside the chain schema (after the field group in ``auto`` mode), dataset,
target connection; the mapping set once the schema exists; the flow last; then, when the flow's
state must be set (a disabled flow, or any revision of an existing flow), ``flow_state``. The plan
depends only on the request and on whether its flow state is managed, so a resumed request replays
the same plan and skips the steps the ledger records as done.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from messages.models import DataflowRequested


class Step(StrEnum):
    """The steps of one dataflow, named as in events, logs, the ledger and metric labels."""

    FLOW_SPEC = "flow_spec"
    SOURCE_CONNECTION = "source_connection"
    FIELD_GROUP = "field_group"
    TARGET_SCHEMA = "target_schema"
    TARGET_DATASET = "target_dataset"
    TARGET_CONNECTION = "target_connection"
    MAPPING_SET = "mapping_set"
    DATAFLOW = "dataflow"
    FLOW_STATE = "flow_state"


# What each step needs before it can run (contract 2.2: the flow spec and the connector first).
DEPENDENCIES: Mapping[Step, tuple[Step, ...]] = {
    Step.FLOW_SPEC: (),
    Step.SOURCE_CONNECTION: (Step.FLOW_SPEC,),
    Step.FIELD_GROUP: (Step.FLOW_SPEC,),
    Step.TARGET_SCHEMA: (Step.FLOW_SPEC, Step.FIELD_GROUP),
    Step.TARGET_DATASET: (Step.TARGET_SCHEMA,),
    Step.TARGET_CONNECTION: (Step.TARGET_SCHEMA, Step.TARGET_DATASET),
    Step.MAPPING_SET: (Step.TARGET_SCHEMA,),
    Step.DATAFLOW: (
        Step.FLOW_SPEC,
        Step.SOURCE_CONNECTION,
        Step.TARGET_CONNECTION,
        Step.MAPPING_SET,
    ),
    Step.FLOW_STATE: (Step.DATAFLOW,),
}

_ORDER: tuple[Step, ...] = (
    Step.FLOW_SPEC,
    Step.SOURCE_CONNECTION,
    Step.FIELD_GROUP,
    Step.TARGET_SCHEMA,
    Step.TARGET_DATASET,
    Step.TARGET_CONNECTION,
    Step.MAPPING_SET,
    Step.DATAFLOW,
    Step.FLOW_STATE,
)

# Resources the Platform lets us delete on rollback; mapping sets cannot be deleted.
DELETABLE: frozenset[Step] = frozenset(
    {
        Step.SOURCE_CONNECTION,
        Step.FIELD_GROUP,
        Step.TARGET_SCHEMA,
        Step.TARGET_DATASET,
        Step.TARGET_CONNECTION,
        Step.DATAFLOW,
    }
)

# Outcomes of a completed step (contract 2.3).
CREATED = "created"
FOUND = "found"
REUSED = "reused"


def plan(*, auto_mapping: bool, flow_state: bool = False) -> tuple[Step, ...]:
    """The steps of a request in execution order.

    ``field_group`` only in auto mapping mode; ``flow_state`` only when the flow's state is set
    explicitly (a new flow is enabled, so an enabled request that creates one needs no step).
    """
    return tuple(
        step
        for step in _ORDER
        if (auto_mapping or step is not Step.FIELD_GROUP)
        and (flow_state or step is not Step.FLOW_STATE)
    )


def next_step(steps: tuple[Step, ...], done: Collection[str]) -> Step | None:
    """The first planned step not yet done whose dependencies are all done, or None at the end."""
    for step in steps:
        needed = (dep for dep in DEPENDENCIES[step] if dep in steps)
        if step.value not in done and all(dep.value in done for dep in needed):
            return step
    return None


def reuses(step: Step, request: DataflowRequested) -> bool:
    """True when the step checks an existing resource instead of creating one (contract 2.2)."""
    if step is Step.FLOW_SPEC:
        return True
    target = request.target
    if step is Step.TARGET_SCHEMA:
        return target.schema_id is not None
    if step is Step.TARGET_DATASET:
        return target.dataset_id is not None
    return False


@dataclass(frozen=True)
class Removal:
    """One resource to remove on rollback, or to report when it cannot be deleted."""

    step: Step
    resource_id: str
    deletable: bool


def built_on(gone: Collection[str], recorded: Collection[str]) -> set[str]:
    """The recorded steps made from a gone one, directly or through others (not the gone ones)."""
    built: set[str] = set()
    grew = True
    while grew:
        grew = False
        for step, needs in DEPENDENCIES.items():
            name = step.value
            if name in built or name in gone or name not in recorded:
                continue
            if any(need.value in gone or need.value in built for need in needs):
                built.add(name)
                grew = True
    return built


def rollback_plan(created: Mapping[str, str], steps: tuple[Step, ...]) -> tuple[Removal, ...]:
    """What a rollback removes, newest first: only resources this request created itself."""
    newest_first = [step for step in reversed(steps) if step.value in created]
    return tuple(
        Removal(step=step, resource_id=created[step.value], deletable=step in DELETABLE)
        for step in newest_first
        if step not in (Step.FLOW_SPEC, Step.FLOW_STATE)
    )

"""The `data` of the events the worker publishes (contract 2.3) and the step names (2.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from pydantic import AwareDatetime, Field, field_validator

from messages.base import FieldViolation, Frozen
from messages.models import Reason, Revision

Step = Literal[
    "source_connection",
    "target_schema",
    "target_dataset",
    "target_connection",
    "mapping_set",
    "flow_spec",
    "dataflow",
    "field_group",
    "flow_state",
]
"""The name of one step of creating, updating or deleting a dataflow (contract 2.2)."""

STEPS: tuple[Step, ...] = get_args(Step)
"""Every step name, in the contract's order."""

StepOutcome = Literal[
    "created", "found", "reused", "updated", "enabled", "disabled", "deleted", "kept"
]
"""How a step ended (contract 2.3): `found` adopted what an earlier attempt created; `kept`: a
deletion left it (see `DataflowDeleted.kept`)."""

ChangeableField = Literal[
    "delta_column", "enabled", "follow_runs", "mappings", "on_failure", "schedule"
]
"""A `data` field that a later revision may change in place (contract 2.4), sorted."""

CHANGEABLE_FIELDS: tuple[ChangeableField, ...] = get_args(ChangeableField)
"""Every field a later revision may change in place."""

KeptReason = Literal["reused", "not_deletable", "in_use"]
"""Why a deletion left a resource: the request supplied it, it cannot be deleted (mapping
sets), or another dataflow uses it."""

FailureKind = Literal["invalid_message", "rejected", "retries_exhausted", "conflict", "poison"]
"""Why a request failed (contract 2.3)."""

EventRequestId = Annotated[str, Field(min_length=1, max_length=128)]
Count = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
ResourceId = Annotated[str, Field(min_length=1)]


def utc(value: datetime) -> datetime:
    """The same instant in UTC."""
    return value.astimezone(UTC)


class StepCompleted(Frozen):
    """One step finished: its resource was created, found, reused, updated, deleted or kept.

    `revision` is the request's revision being applied (dataschema version 2; version 1 events
    are read as revision 1).
    """

    request_id: EventRequestId
    step: Step
    resource_id: ResourceId
    outcome: StepOutcome
    attempts: Count
    duration_seconds: Seconds
    revision: Revision


class DataflowCreated(Frozen):
    """The dataflow exists: the ids of everything that makes it up."""

    request_id: EventRequestId
    flow_id: ResourceId
    source_connection_id: ResourceId
    target_connection_id: ResourceId
    schema_id: ResourceId
    dataset_id: ResourceId
    mapping_set_id: ResourceId
    flow_spec_id: ResourceId
    attempts: Count
    duration_seconds: Seconds


class DataflowUpdated(Frozen):
    """A later revision was applied to the dataflow in place.

    `changed` lists the `data` fields whose change was applied (sorted; empty when the revision
    only re-applied what drifted); `mapping_set_id` is the set the flow uses now.
    """

    request_id: EventRequestId
    revision: Revision
    flow_id: ResourceId
    changed: list[ChangeableField]
    mapping_set_id: ResourceId
    enabled: bool
    attempts: Count
    duration_seconds: Seconds

    @field_validator("changed")
    @classmethod
    def _sorted(cls, value: list[ChangeableField]) -> list[ChangeableField]:
        return sorted(set(value))


class Kept(Frozen):
    """A resource a deletion left, and why."""

    id: ResourceId
    reason: KeptReason


class DataflowDeleted(Frozen):
    """The dataflow and what its request created are deleted.

    `deleted` maps each step to the id of what was deleted (now or by an earlier attempt);
    `kept` maps each step whose resource stays to its id and the reason. `reason` echoes the
    deletion request's own free-text reason (null when it gave none): an addition the contract
    allows, since it says the reason is "logged and echoed".
    """

    request_id: EventRequestId
    deleted: dict[Step, ResourceId]
    kept: dict[Step, Kept]
    attempts: Count
    duration_seconds: Seconds
    reason: Reason | None = None


class FailureError(Frozen):
    """What went wrong: the kind, a readable message, the Platform's status and code if any."""

    kind: FailureKind
    message: str
    status: Annotated[int, Field(ge=100, le=599)] | None = None
    code: str | None = None
    fields: list[FieldViolation] | None = None


class DataflowFailed(Frozen):
    """A request ended without a dataflow.

    `request_id` is null only when the message could not be read (it is whatever could be read,
    so it may break the request's own rules); `step` is null when no step started. `created` maps
    each step to the id of its resource that exists now; `rolled_back` lists the steps whose
    resources were deleted, in the order they were deleted (newest first).
    """

    request_id: Annotated[str, Field(max_length=4096)] | None
    step: Step | None = None
    error: FailureError
    attempts: Count = 0
    created: dict[str, str] = Field(default_factory=dict)
    rolled_back: list[str] = Field(default_factory=list)


class RunRecords(Frozen):
    """How many records a flow run read, wrote and failed on."""

    input: Count = 0
    output: Count = 0
    failed: Count = 0


class RunError(Frozen):
    """One error a flow run reported."""

    code: str
    message: str


class DataflowRunCompleted(Frozen):
    """The first run of a new dataflow finished (only when the request follows runs)."""

    request_id: EventRequestId
    flow_id: ResourceId
    run_id: ResourceId
    status: Literal["success", "failed"]
    records: RunRecords = Field(default_factory=RunRecords)
    errors: list[RunError] = Field(default_factory=list)
    started_at: AwareDatetime
    completed_at: AwareDatetime

    @field_validator("started_at", "completed_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return utc(value)

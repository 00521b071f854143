"""Drift: how a dataflow in the Platform differs from its last applied revision (pure).

Someone may change or delete a flow in the Platform's UI (contract 2.4). The ledger says what
was applied: the content of the last applied revision and the ids of what the steps made.
:func:`drift` compares that with what the Platform holds: the flow present, its state (enabled
or disabled), and, through :func:`worker.platform.flowpatch.differences` against the flow body
the worker would send, its schedule, delta column, mapping set and the connections it uses;
and whether the source and target connections themselves still exist.

Values are JSON-ready; ``actual`` None means the resource is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from messages import DataflowRequested, validate_request
from worker.core.record import RequestRecord
from worker.core.revisions import content_of
from worker.core.steps import Step
from worker.platform.bodies import flow_body
from worker.platform.flowpatch import differences, mapping_of, schedule_of, transformations_of

Json = dict[str, Any]


@dataclass(frozen=True)
class Applied:
    """What the ledger says a dataflow is: the last applied request and its resources' ids."""

    request: DataflowRequested
    revision: int
    flow_id: str
    source_connection_id: str
    target_connection_id: str
    mapping_set_id: str
    flow_spec_id: str

    def desired_flow(self) -> Json:
        """The flow body the worker would send for the applied revision."""
        return flow_body(
            self.request,
            flow_spec_id=self.flow_spec_id,
            source_connection_id=self.source_connection_id,
            target_connection_id=self.target_connection_id,
            mapping_id=self.mapping_set_id,
            mapping_version=0,  # not compared: only the mapping set's id is
        )


@dataclass(frozen=True)
class Observed:
    """What the Platform holds of one dataflow: its flow (None: not found) and whether its
    source and target connections exist."""

    flow: Mapping[str, Any] | None
    source_connection: bool
    target_connection: bool


@dataclass(frozen=True)
class Drift:
    """One difference: the field, what the last applied revision says, what the Platform has."""

    field: str
    expected: Any
    actual: Any


class NotAuditableError(ValueError):
    """The record describes no applied dataflow to compare (never applied, or incomplete)."""


def applied_of(record: RequestRecord) -> Applied:
    """The last applied revision of a record; :class:`NotAuditableError` when there is none."""
    if record.applied_revision is None or not record.applied_json:
        raise NotAuditableError(f"no applied revision ({record.status})")
    request = validate_request(content_of(record.applied_json))
    ids = {step: record.step(step.value).resource_id for step in _RESOURCES}
    missing = [step.value for step, resource in ids.items() if not resource]
    if missing:
        raise NotAuditableError(f"the ledger holds no id for {', '.join(missing)}")
    return Applied(
        request,
        record.applied_revision,
        flow_id=str(ids[Step.DATAFLOW]),
        source_connection_id=str(ids[Step.SOURCE_CONNECTION]),
        target_connection_id=str(ids[Step.TARGET_CONNECTION]),
        mapping_set_id=str(ids[Step.MAPPING_SET]),
        flow_spec_id=record.step(Step.FLOW_SPEC.value).resource_id or "",
    )


def drift(applied: Applied, observed: Observed) -> list[Drift]:
    """Every difference between the applied revision and what the Platform holds."""
    found: list[Drift] = []
    flow = observed.flow
    if flow is None:
        found.append(Drift("flow", applied.flow_id, None))
    else:
        wanted = "enabled" if applied.request.enabled else "disabled"
        state = str(flow.get("state") or "").lower() or None
        if state != wanted:
            found.append(Drift("enabled", wanted, state))
        desired = applied.desired_flow()
        for name in differences(flow, desired):
            found.append(Drift(name, _value(name, desired), _value(name, flow)))
    if not observed.source_connection:
        found.append(Drift("source_connection", applied.source_connection_id, None))
    if not observed.target_connection:
        found.append(Drift("target_connection", applied.target_connection_id, None))
    return found


_RESOURCES = (Step.DATAFLOW, Step.SOURCE_CONNECTION, Step.TARGET_CONNECTION, Step.MAPPING_SET)

_IDS = {"source_connection": "sourceConnectionIds", "target_connection": "targetConnectionIds"}


def _value(name: str, flow: Mapping[str, Any]) -> Any:
    """The value of one compared field of a flow, as ``differences`` compares it."""
    if name == "schedule":
        return schedule_of(flow)
    if name == "delta_column":
        return (transformations_of(flow).get("Copy") or {}).get("deltaColumn")
    if name == "mapping_set":
        return mapping_of(flow)[0]
    return list(flow.get(_IDS[name]) or [])

"""Revisions of one dataflow: which fields changed, which may change, and what a change reopens.

A ``request_id`` names one dataflow for its whole life; ``revision`` orders what its producer
wants of it (contract 2.4). The *fixed* fields decide what the dataflow is made of (its source
table, its target, its names) and a revision may not change them; the *changeable* ones are
applied in place. Contents are compared as the canonical JSON the ledger stores (see
``messages.codec.canonical_content``: ``revision`` left out, ``enabled`` only when false).
Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from worker.core.changes import replace
from worker.core.record import RequestRecord, StepRecord
from worker.core.steps import Step, built_on

FIXED_FIELDS: tuple[str, ...] = (
    "sandbox",
    "name",
    "source",
    "target",
    "mapping_mode",
    "flow_spec_name",
)
"""What the dataflow is made of: a change needs a new ``request_id``."""

CHANGEABLE_FIELDS: tuple[str, ...] = (
    "schedule",
    "delta_column",
    "mappings",
    "enabled",
    "on_failure",
    "follow_runs",
)
"""What a revision applies in place (the last two have no remote effect)."""

_DEFAULTS: Mapping[str, Any] = {"enabled": True}

PlanKind = Literal["create", "unchanged", "update", "conflict", "delete"]


def content_of(request_json: str) -> dict[str, Any]:
    """A stored canonical request as a dict, with the defaults its canonical form leaves out."""
    if not request_json:
        return {}
    return {**_DEFAULTS, **json.loads(request_json)}


def changed_fields(before: str, after: str) -> tuple[str, ...]:
    """The top-level ``data`` fields whose values differ between two contents, sorted."""
    old, new = content_of(before), content_of(after)
    return tuple(sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key)))


def fixed_changes(before: str, after: str) -> tuple[str, ...]:
    """The fixed fields a revision would change (a ``conflict`` when any)."""
    return tuple(field for field in changed_fields(before, after) if field in FIXED_FIELDS)


def desired_enabled(request_json: str) -> bool:
    """The flow state the content asks for."""
    return bool(content_of(request_json).get("enabled", True))


def revised(record: RequestRecord, request_json: str) -> dict[str, StepRecord]:
    """The steps after a higher revision with ``request_json`` is accepted.

    What a deletion (or a rollback) deleted is made again, with what was built on it; what a
    deletion kept (another dataflow uses it) is adopted again. Failed steps go back to pending
    (keeping a flow's id: the flow is patched, not made again). When the flow exists, the
    revision reconciles it: the flow is re-read and patched where it differs, its state set; a
    change of ``mappings`` first makes a new mapping set (mapping sets cannot be changed in
    place; the old one stays unused).
    """
    changed = set(changed_fields(record.request_json, request_json))
    steps = dict(record.steps)
    for name, step in steps.items():
        if step.state == "kept":
            steps[name] = replace(step, state="done", outcome="found")
    gone = {name for name, step in steps.items() if step.state == "deleted"}
    gone |= built_on(gone, steps)
    for name in gone:
        steps[name] = StepRecord()
    for name, step in steps.items():
        if step.state == "failed":
            keep = step.resource_id if name == Step.DATAFLOW.value else None
            steps[name] = StepRecord(name=step.name, resource_id=keep)
    mapping = steps.get(Step.MAPPING_SET.value)
    if "mappings" in changed and mapping is not None and mapping.state == "done":
        steps[Step.MAPPING_SET.value] = StepRecord(resource_id=mapping.resource_id)
    flow = steps.get(Step.DATAFLOW.value)
    if flow is not None and flow.state == "done":
        steps[Step.DATAFLOW.value] = StepRecord(name=flow.name, resource_id=flow.resource_id)
        state = steps.get(Step.FLOW_STATE.value, StepRecord())
        steps[Step.FLOW_STATE.value] = StepRecord(resource_id=state.resource_id)
    return steps


def flow_exists(steps: Mapping[str, StepRecord]) -> bool:
    """True when the steps hold a flow that is made (done, or reopened to be patched)."""
    flow = steps.get(Step.DATAFLOW.value)
    return flow is not None and flow.resource_id is not None and flow.state != "deleted"


def plan_kind(record: RequestRecord | None, request_json: str) -> tuple[PlanKind, tuple[str, ...]]:
    """What publishing ``request_json`` would do to the recorded request, and the fields why.

    ``create`` (new, or deleted), ``unchanged`` (same content as the latest revision),
    ``update`` (changeable fields differ), ``conflict`` (fixed fields differ).
    """
    if record is None or record.status == "deleted":
        return "create", ()
    changed = changed_fields(record.request_json, request_json)
    if not changed:
        return "unchanged", ()
    fixed = tuple(field for field in changed if field in FIXED_FIELDS)
    if fixed:
        return "conflict", fixed
    return "update", changed

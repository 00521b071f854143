"""What a flow must be, when it is created and again after every PATCH.

A flow names a known flow spec and existing connections of the connection specs that spec
allows; its transformations fit the spec (``Copy`` names a ``deltaColumn.name``), its mapping set
exists (with that version, ``1412``), is valid (``1419``) and targets the target's schema
(``1425``); its schedule obeys the spec's ``scheduleSpec``. ``check_flow`` raises Flow Service's
``ServiceError`` for the first thing wrong and answers what the flow is made of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator import specs
from emulator.errors import FLOW, bad_request
from emulator.flowrules import (
    coerce_schedule,
    mapping_params,
    missing_fields,
    schedule_problems,
    stored_schedule,
    stored_transformations,
    transformation_problems,
)
from emulator.state import (
    CONNECTIONS,
    MAPPING_SETS,
    SOURCE_CONNECTIONS,
    TARGET_CONNECTIONS,
    Item,
    Scope,
    Store,
)

_FLOW_SPECS = {spec["id"]: spec for spec in specs.flow_specs()}


@dataclass(frozen=True)
class CheckedFlow:
    """What a valid flow body is made of: its spec, connections and coerced schedule."""

    spec: dict[str, Any]
    sources: list[Item]
    targets: list[Item]
    schedule: dict[str, Any]


def flow_spec(spec_id: Any) -> dict[str, Any] | None:
    """The flow spec with this id, or None."""
    return _FLOW_SPECS.get(spec_id) if isinstance(spec_id, str) else None


def require(body: dict[str, Any], *paths: str) -> None:
    """Refuse a body without one of these dotted paths (``1400``)."""
    missing = missing_fields(body, paths)
    if missing:
        raise bad_request(FLOW, 1400, f"Missing required fields: {', '.join(missing)}")


def check_flow(store: Store, scope: Scope, body: dict[str, Any]) -> CheckedFlow:
    """Check a flow body (new, or a stored flow as a patch left it) as Flow Service does."""
    require(body, "name", "flowSpec.id")
    spec = flow_spec(body["flowSpec"].get("id"))
    if spec is None:
        spec_id = body["flowSpec"].get("id")
        raise bad_request(FLOW, 1413, f"Flow spec {spec_id} is not valid.", flowSpecId=spec_id)
    sources = _connections(
        store, scope, SOURCE_CONNECTIONS, body.get("sourceConnectionIds"), "sourceConnectionIds"
    )
    targets = _connections(
        store, scope, TARGET_CONNECTIONS, body.get("targetConnectionIds"), "targetConnectionIds"
    )
    _check_specs(spec, sources, targets)
    transformations = body.get("transformations", [])
    names = [t["name"] for t in spec["transformationSpec"]]
    problems = transformation_problems(transformations, names)
    if problems:
        raise bad_request(FLOW, 1400, problems[0], problems=problems)
    mapping = mapping_params(transformations)
    if mapping is not None:
        _check_mapping(store, scope, mapping, targets)
    schedule = coerce_schedule(body.get("scheduleParams") or {})
    problems = schedule_problems(schedule) if body.get("scheduleParams") is not None else []
    if problems:
        raise bad_request(FLOW, 1400, problems[0], problems=problems)
    return CheckedFlow(spec, sources, targets, schedule)


def stored_fields(store: Store, scope: Scope, checked: CheckedFlow, body: dict[str, Any]) -> Item:
    """The fields a stored flow derives from its checked body: its connections (as ids and as
    inherited attributes), schedule and transformations in the types Flow Service answers."""
    return {
        "sourceConnectionIds": [s["id"] for s in checked.sources],
        "targetConnectionIds": [t["id"] for t in checked.targets],
        "inheritedAttributes": _inherited_attributes(store, scope, checked),
        "scheduleParams": stored_schedule(checked.schedule),
        "transformations": stored_transformations(body.get("transformations", [])),
    }


def _inherited_attributes(store: Store, scope: Scope, checked: CheckedFlow) -> Item:
    """What a flow shows of its connections (and of its sources' base connections)."""
    bases = store.collection(scope, CONNECTIONS)

    def inherited_source(source: Item) -> Item:
        """What a flow shows of one source connection and its base."""
        base = bases.get(source.get("baseConnectionId") or "")
        base_ref = {"id": base["id"], "connectionSpec": base["connectionSpec"]} if base else None
        return {
            "id": source["id"],
            "connectionSpec": source["connectionSpec"],
            "baseConnection": base_ref,
        }

    targets = [{"id": t["id"], "connectionSpec": t["connectionSpec"]} for t in checked.targets]
    return {
        "sourceConnections": [inherited_source(s) for s in checked.sources],
        "targetConnections": targets,
    }


def mapping_schema_id(mapping_set: Item) -> str | None:
    """The target schema ``$id`` of a Data Prep mapping set (either request dialect)."""
    output = mapping_set.get("outputSchema")
    if isinstance(output, dict):
        ref = output.get("schemaRef")
        if isinstance(ref, dict) and ref.get("id"):
            return str(ref["id"])
        if output.get("id"):
            return str(output["id"])
    if mapping_set.get("xdmSchema"):
        return str(mapping_set["xdmSchema"])
    ref = mapping_set.get("schemaRef")
    return str(ref["id"]) if isinstance(ref, dict) and ref.get("id") else None


def _connections(store: Store, scope: Scope, kind: str, ids: Any, what: str) -> list[Item]:
    if not isinstance(ids, list) or not ids:
        raise bad_request(FLOW, 1400, f"Missing required fields: {what}")
    coll = store.collection(scope, kind)
    found = []
    for item_id in ids:
        item = coll.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            message = f"The {kind} resource {item_id} is not found. Verify the connection ID."
            raise bad_request(FLOW, 1400, message, id=item_id, type=kind)
        found.append(item)
    return found


def _check_specs(spec: dict[str, Any], sources: list[Item], targets: list[Item]) -> None:
    for source in sources:
        if source["connectionSpec"]["id"] not in spec["sourceConnectionSpecIds"]:
            message = (
                f"Source connection spec {source['connectionSpec']['id']} is not supported "
                f"by flow spec {spec['name']}."
            )
            raise bad_request(FLOW, 1400, message, id=source["id"])
    for target in targets:
        if target["connectionSpec"]["id"] not in spec["targetConnectionSpecIds"]:
            message = f"Target connection spec {target['connectionSpec']['id']} is not supported."
            raise bad_request(FLOW, 1400, message, id=target["id"])


def _check_mapping(store: Store, scope: Scope, params: dict[str, Any], targets: list[Item]) -> None:
    mapping_id = params.get("mappingId")
    mapping_set = store.collection(scope, MAPPING_SETS).get(str(mapping_id))
    if mapping_set is None:
        message = f"Mapping set {mapping_id} is not found. Verify the mapping ID."
        raise bad_request(FLOW, 1419, message, mappingId=mapping_id)
    version = params.get("mappingVersion")
    if version is not None and str(version) != str(mapping_set.get("version", 0)):
        message = f"Mapping version {version} of mapping set {mapping_id} does not exist."
        raise bad_request(FLOW, 1412, message, mappingId=mapping_id)
    mapping_schema = mapping_schema_id(mapping_set)
    for target in targets:
        schema = target.get("data", {}).get("schema")
        if mapping_schema and isinstance(schema, dict) and schema.get("id") != mapping_schema:
            message = (
                f"The mapping schema {mapping_schema} and the target dataset schema "
                f"{schema.get('id')} must have the same id and version."
            )
            raise bad_request(FLOW, 1425, message, mappingId=mapping_id)

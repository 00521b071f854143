"""Flow Service creates: validate a POST body as the Platform does and build the stored resource.

Each ``build_*`` takes the store, the scope and the body, and returns the new item (with its
``id``) or raises ``ServiceError`` with Flow Service's code. Datasets and mapping sets are read
from the shared store (Catalog and Data Prep write them).
"""

from __future__ import annotations

import re
import uuid
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
    DATASETS,
    MAPPING_SETS,
    SOURCE_CONNECTIONS,
    TARGET_CONNECTIONS,
    Item,
    Scope,
    Store,
    new_etag,
    new_uuid,
)

SECRET_MASK = "<secret>"  # noqa: S105 -- the placeholder shown instead of a secret
_CONNECTION_SPECS = {spec["id"]: spec for spec in specs.connection_specs()}
_FLOW_SPECS = {spec["id"]: spec for spec in specs.flow_specs()}
_FORMATS = ("tabular", "delimited", "json", "parquet", "parquet_xdm")
#: The schema versions Adobe's own examples give a data-lake target connection: ``;version=1``
#: (the database tutorial) and ``;version=1.0`` (Flow Service's spec, most connector tutorials).
_XED_FULL_V1 = re.compile(r"application/vnd\.adobe\.xed-full\+json\s*;\s*version\s*=\s*1(?:\.0)?")


def connection_spec(spec_id: Any) -> dict[str, Any] | None:
    """The connection spec with this id, or None."""
    return _CONNECTION_SPECS.get(spec_id) if isinstance(spec_id, str) else None


def flow_spec(spec_id: Any) -> dict[str, Any] | None:
    """The flow spec with this id, or None."""
    return _FLOW_SPECS.get(spec_id) if isinstance(spec_id, str) else None


def audit(scope: Scope, now_ms: int, client: str) -> Item:
    """The audit fields every Flow Service entity carries."""
    user = f"{client}@AdobeID"
    return {
        "createdAt": now_ms,
        "updatedAt": now_ms,
        "createdBy": user,
        "updatedBy": user,
        "createdClient": client,
        "updatedClient": client,
        "sandboxId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.org}/{scope.sandbox}")),
        "sandboxName": scope.sandbox,
        "imsOrgId": scope.org,
    }


def _require(body: dict[str, Any], *paths: str) -> None:
    missing = missing_fields(body, paths)
    if missing:
        raise bad_request(FLOW, 1400, f"Missing required fields: {', '.join(missing)}")


def _known_spec(body: dict[str, Any]) -> dict[str, Any]:
    spec_id = body["connectionSpec"].get("id")
    spec = connection_spec(spec_id)
    if spec is None:
        message = f"Connection spec {spec_id} is not valid. Verify the connection spec ID."
        raise bad_request(FLOW, 1413, message, connectionSpecId=spec_id)
    return spec


def _no_state(body: dict[str, Any]) -> None:
    if "state" in body:
        raise bad_request(FLOW, 1410, "The state of an entity cannot be set when creating it.")


def _common(body: dict[str, Any], extra: Item) -> Item:
    spec = body["connectionSpec"]
    item: Item = {
        "id": new_uuid(),
        "name": body.get("name"),
        "description": body.get("description", ""),
        "connectionSpec": {"id": spec["id"], "version": spec.get("version", "1.0")},
        "state": "enabled",
        "version": new_etag(),
    }
    item.update(extra)
    item["etag"] = item["version"]
    return item


def build_connection(store: Store, scope: Scope, body: dict[str, Any], stamp: Item) -> Item:
    """A base connection; its auth params are kept masked, never in clear."""
    _require(body, "name", "auth.specName", "connectionSpec.id")
    _no_state(body)
    spec = _known_spec(body)
    auth = body["auth"]
    auth_spec = next((a for a in spec["authSpec"] if a["name"] == auth["specName"]), None)
    if auth_spec is None:
        names = ", ".join(a["name"] for a in spec["authSpec"]) or "none"
        message = f"Auth spec {auth['specName']} is not supported by this connector ({names})."
        raise bad_request(FLOW, 1400, message)
    params: dict[str, Any] = auth["params"] if isinstance(auth.get("params"), dict) else {}
    absent = [k for k in auth_spec["spec"].get("required", []) if not params.get(k)]
    if absent:
        raise bad_request(FLOW, 1400, f"Missing required auth params: {', '.join(absent)}")
    return _common(body, {"auth": masked_auth(auth), **stamp})


def masked_auth(auth: Any) -> Any:
    """A base connection's ``auth`` as it is kept and shown: every param's value masked."""
    if not isinstance(auth, dict):
        return auth
    params = auth.get("params")
    return {
        **auth,
        "params": dict.fromkeys(params if isinstance(params, dict) else (), SECRET_MASK),
    }


def build_source_connection(store: Store, scope: Scope, body: dict[str, Any], stamp: Item) -> Item:
    """A source connection: its base connection must exist and be of the same connector."""
    _require(body, "name", "connectionSpec.id", "data.format")
    _no_state(body)
    spec = _known_spec(body)
    if body["data"]["format"] not in _FORMATS:
        raise bad_request(FLOW, 1400, f"data.format must be one of {', '.join(_FORMATS)}")
    base_id = body.get("baseConnectionId")
    if spec["id"] != specs.DATA_LAKE_SPEC_ID and not base_id:
        raise bad_request(FLOW, 1400, "Missing required fields: baseConnectionId")
    if base_id:
        base = store.collection(scope, CONNECTIONS).get(base_id)
        if base is None:
            message = f"Base connection {base_id} is not found. Verify the base connection ID."
            raise bad_request(FLOW, 1400, message, baseConnectionId=base_id)
        if base["connectionSpec"]["id"] != spec["id"]:
            message = (
                f"Base connection {base_id} is of connection spec {base['connectionSpec']['id']}, "
                f"not {spec['id']}."
            )
            raise bad_request(FLOW, 1400, message, baseConnectionId=base_id)
    extra = {
        "baseConnectionId": base_id,
        "data": body["data"],
        "params": body.get("params", {}),
        **stamp,
    }
    return _common(body, extra)


def _schema_version_ok(version: Any) -> bool:
    return isinstance(version, str) and _XED_FULL_V1.fullmatch(version.strip()) is not None


def build_target_connection(store: Store, scope: Scope, body: dict[str, Any], stamp: Item) -> Item:
    """A target connection to the data lake: its dataset must exist, its schema version fit."""
    _require(body, "connectionSpec.id", "data")
    _no_state(body)
    spec = _known_spec(body)
    if spec["id"] != specs.DATA_LAKE_SPEC_ID:
        message = f"Connection spec {spec['id']} cannot be used for a target connection."
        raise bad_request(FLOW, 1413, message, connectionSpecId=spec["id"])
    params: dict[str, Any] = body["params"] if isinstance(body.get("params"), dict) else {}
    dataset_id = params.get("dataSetId")
    if not dataset_id:
        raise bad_request(FLOW, 1400, "Missing required fields: params.dataSetId")
    dataset = store.collection(scope, DATASETS).get(dataset_id)
    if dataset is None:
        message = f"Dataset {dataset_id} is not found. Provide a valid dataset ID."
        raise bad_request(FLOW, 1400, message, dataSetId=dataset_id)
    schema = body["data"].get("schema") if isinstance(body["data"], dict) else None
    if schema is not None:
        if not isinstance(schema, dict) or not schema.get("id"):
            raise bad_request(FLOW, 1400, "Missing required fields: data.schema.id")
        if not _schema_version_ok(schema.get("version")):
            message = (
                f"Schema version {schema.get('version')!r} is not valid; "
                f"use {specs.XED_FULL_V1} (or version=1.0)."
            )
            raise bad_request(FLOW, 1400, message)
        dataset_schema = dataset_schema_id(dataset)
        if dataset_schema is not None and dataset_schema != schema["id"]:
            message = (
                f"Schema {schema['id']} does not match the schema {dataset_schema} "
                f"of dataset {dataset_id}."
            )
            raise bad_request(FLOW, 1425, message, dataSetId=dataset_id)
    extra = {"data": body["data"], "params": params, **stamp}
    return _common(body, extra)


def dataset_schema_id(dataset: Item) -> str | None:
    """The schema ``$id`` a Catalog dataset refers to."""
    ref = dataset.get("schemaRef")
    return ref.get("id") if isinstance(ref, dict) else None


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


def build_flow(store: Store, scope: Scope, body: dict[str, Any], stamp: Item) -> Item:
    """A flow: known spec, existing connections of allowed specs, valid transformations and
    schedule, an existing mapping set of the target's schema."""
    _require(body, "name", "flowSpec.id")
    _no_state(body)
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
    return _flow_item(store, scope, body, spec, sources, targets, schedule, stamp)


def _flow_item(
    store: Store,
    scope: Scope,
    body: dict[str, Any],
    spec: dict[str, Any],
    sources: list[Item],
    targets: list[Item],
    schedule: dict[str, Any],
    stamp: Item,
) -> Item:
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

    flow_id = new_uuid()
    etag = new_etag()
    return {
        "id": flow_id,
        "name": body["name"],
        "description": body.get("description", ""),
        "flowSpec": {"id": spec["id"], "version": body["flowSpec"].get("version", spec["version"])},
        "state": "enabled",
        "version": etag,
        "etag": etag,
        "sourceConnectionIds": [s["id"] for s in sources],
        "targetConnectionIds": [t["id"] for t in targets],
        "inheritedAttributes": {
            "sourceConnections": [inherited_source(s) for s in sources],
            "targetConnections": [
                {"id": t["id"], "connectionSpec": t["connectionSpec"]} for t in targets
            ],
        },
        "options": body.get("options", {}),
        "scheduleParams": stored_schedule(schedule),
        "transformations": stored_transformations(body.get("transformations", [])),
        "runs": f"/runs?property=flowId=={flow_id}",
        "lastOperation": {
            "started": stamp["createdAt"],
            "updated": stamp["createdAt"],
            "operation": "create",
        },
        **stamp,
    }

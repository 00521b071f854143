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
from emulator.flowcheck import check_flow, require, stored_fields
from emulator.state import CONNECTIONS, DATASETS, Item, Scope, Store, new_etag, new_uuid

SECRET_MASK = "<secret>"  # noqa: S105 -- the placeholder shown instead of a secret
_CONNECTION_SPECS = {spec["id"]: spec for spec in specs.connection_specs()}
_FORMATS = ("tabular", "delimited", "json", "parquet", "parquet_xdm")
#: The schema versions Adobe's own examples give a data-lake target connection: ``;version=1``
#: (the database tutorial) and ``;version=1.0`` (Flow Service's spec, most connector tutorials).
_XED_FULL_V1 = re.compile(r"application/vnd\.adobe\.xed-full\+json\s*;\s*version\s*=\s*1(?:\.0)?")


def connection_spec(spec_id: Any) -> dict[str, Any] | None:
    """The connection spec with this id, or None."""
    return _CONNECTION_SPECS.get(spec_id) if isinstance(spec_id, str) else None


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
    require(body, "name", "auth.specName", "connectionSpec.id")
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
    require(body, "name", "connectionSpec.id", "data.format")
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
    require(body, "connectionSpec.id", "data")
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


def build_flow(store: Store, scope: Scope, body: dict[str, Any], stamp: Item) -> Item:
    """A flow: a new body checked as ``emulator.flowcheck`` says, without a ``state``."""
    require(body, "name", "flowSpec.id")
    _no_state(body)
    checked = check_flow(store, scope, body)
    flow_id = new_uuid()
    etag = new_etag()
    return {
        "id": flow_id,
        "name": body["name"],
        "description": body.get("description", ""),
        "flowSpec": {
            "id": checked.spec["id"],
            "version": body["flowSpec"].get("version", checked.spec["version"]),
        },
        "state": "enabled",
        "version": etag,
        "etag": etag,
        **stored_fields(store, scope, checked, body),
        "options": body.get("options", {}),
        "runs": f"/runs?property=flowId=={flow_id}",
        "lastOperation": {
            "started": stamp["createdAt"],
            "updated": stamp["createdAt"],
            "operation": "create",
        },
        **stamp,
    }

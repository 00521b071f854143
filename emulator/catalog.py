"""Catalog (``/data/foundation/catalog``): datasets of tenant schemas.

A dataset is created with ``POST /dataSets`` (201, ``["@/dataSets/<id>"]`` and a ``Location``),
read with ``GET /dataSets[/<id>]`` as a map keyed by id, changed with ``PATCH`` and deleted with
``DELETE`` (both 200 and the same list). Its ``schemaRef.id`` must name an existing tenant
schema of the sandbox. Catalog knows nothing of flows: a dataset that a target connection (and
so a flow) still names is deleted all the same, and a client that must not break another
dataflow asks Flow Service first (``targetConnections?property=params.dataSetId==<id>``).

Catalog does not document its error codes; the emulator answers in the Platform's generic
shape with ``CAT-<code>-<status>``: 1001-400 malformed body, 1002-400 schema not found,
1003-400 bad query parameter (the message states the accepted range), 1004-404 dataset not found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.catalogquery import CatalogQuery, QueryError, parse_query, project, run
from emulator.errors import CATALOG, ServiceError, json_body, not_found
from emulator.jsonpatch import PatchError, apply_patch
from emulator.registrystore import find_schema
from emulator.state import DATASETS, Item, Scope, Store, new_hex, scope_of, store_of

BASE = "/data/foundation/catalog"
DATA_LAKE = "s3://emulator-data-lake/datasets"  # where the emulator says a dataset's files live
_CONTENT_TYPE = re.compile(
    r"^application/vnd\.adobe\.(?:xed|xdm)(?:-full)?(?:-notext)?(?:-desc)?\+json"
    r"\s*;\s*version\s*=\s*\d+(?:\.\d+)?$"
)
_WRITABLE = (
    "name",
    "description",
    "tags",
    "enableErrorDiagnostics",
    "observableSchema",
    "fileDescription",
    "dataSourceId",
)


def _bad(code: int, message: str) -> ServiceError:
    return ServiceError(CATALOG, code, 400, message)


def _bad_body(message: str) -> ServiceError:
    return _bad(1001, message)


def dataset_schema_id(store: Store, scope: Scope, dataset_id: str) -> str | None:
    """The ``$id`` of a dataset's schema, or None when the dataset does not exist."""
    dataset = store.collection(scope, DATASETS).get(dataset_id)
    if dataset is None:
        return None
    ref = dataset.get("schemaRef") or {}
    schema_id = ref.get("id")
    return schema_id if isinstance(schema_id, str) else None


def _render(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "id"}


def _schema_ref(store: Store, scope: Scope, body: dict[str, Any]) -> dict[str, str]:
    ref = body.get("schemaRef")
    if ref is None and isinstance(body.get("schema"), str):
        ref = {"id": body["schema"], "contentType": "application/vnd.adobe.xed+json;version=1"}
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str):
        raise _bad(1001, "schemaRef is required: {id: <schema $id>, contentType: <xed type>}")
    content_type = ref.get("contentType", "application/vnd.adobe.xed+json;version=1")
    if not isinstance(content_type, str) or not _CONTENT_TYPE.match(content_type.strip()):
        raise _bad(1001, f"schemaRef.contentType is not a versioned XDM type: {content_type!r}")
    schema = find_schema(store, scope, ref["id"])
    if schema is None:
        raise _bad(1002, f"The schema {ref['id']} does not exist in this sandbox")
    return {"id": schema["$id"], "contentType": content_type.strip()}


def _validate(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad(1001, "The request body must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _bad(1001, "name is required and must be a non-empty string")
    if "description" in body and not isinstance(body["description"], str):
        raise _bad(1001, "description must be a string")
    if not isinstance(body.get("enableErrorDiagnostics", False), bool):
        raise _bad(1001, "enableErrorDiagnostics must be a boolean")
    tags = body.get("tags", {})
    valid_tags = isinstance(tags, dict) and all(
        isinstance(v, list) and all(isinstance(t, str) for t in v) for v in tags.values()
    )
    if not valid_tags:
        raise _bad(1001, "tags must map each tag name to a list of strings")
    return body


async def create_dataset(request: Request) -> Response:
    """``POST /dataSets``: 201 ``["@/dataSets/<id>"]`` with a ``Location`` header."""
    store, scope = store_of(request), scope_of(request)
    raw = await json_body(request, _bad_body)
    body = _validate(raw)
    schema_ref = _schema_ref(store, scope, body)
    dataset_id = new_hex(24)
    now = store.clock.now_ms()
    client = request.headers.get("x-api-key", "")
    user = f"{client or 'client'}@AdobeID"
    item: Item = {key: body[key] for key in _WRITABLE if key in body}
    item.update(
        {
            "id": dataset_id,
            "imsOrg": scope.org,
            "version": "1.0.0",
            "created": now,
            "updated": now,
            "createdClient": client,
            "createdUser": user,
            "updatedUser": user,
            "viewId": new_hex(24),
            "schemaRef": schema_ref,
            "tags": body.get("tags", {}),
            "files": f"@/dataSetFiles?dataSetId={dataset_id}",
            "basePath": f"{DATA_LAKE}/{dataset_id}",
            "enableErrorDiagnostics": body.get("enableErrorDiagnostics", False),
            "observableSchema": body.get("observableSchema", {}),
        }
    )
    store.collection(scope, DATASETS).add(dataset_id, item)
    location = f"{request.url.scheme}://{request.url.netloc}{BASE}/dataSets/{dataset_id}"
    return JSONResponse(
        [f"@/dataSets/{dataset_id}"], status_code=201, headers={"Location": location}
    )


def _query(request: Request) -> CatalogQuery:
    params = {key: request.query_params.getlist(key) for key in request.query_params}
    try:
        return parse_query(params)
    except QueryError as error:
        raise _bad(1003, str(error)) from None


async def list_datasets(request: Request) -> Response:
    """``GET /dataSets``: one page of datasets, keyed by id."""
    query = _query(request)
    coll = store_of(request).collection(scope_of(request), DATASETS)
    exact = query.name.exact() if query.name is not None else None
    candidates = coll.find("name", exact) if exact is not None else coll.values()
    pairs = ((item["id"], item) for item in candidates)
    chosen = run(pairs, query)
    return JSONResponse({key: project(_render(item), query.properties) for key, item in chosen})


def _existing(request: Request) -> Item:
    dataset_id = request.path_params["dataset_id"]
    item = store_of(request).collection(scope_of(request), DATASETS).get(dataset_id)
    if item is None:
        raise not_found(CATALOG, 1004, "dataSets", dataset_id)
    return item


async def get_dataset(request: Request) -> Response:
    """``GET /dataSets/<id>``: ``{<id>: dataset}``."""
    item = _existing(request)
    query = _query(request)
    return JSONResponse({item["id"]: project(_render(item), query.properties)})


async def delete_dataset(request: Request) -> Response:
    """``DELETE /dataSets/<id>``: 200 ``["@/dataSets/<id>"]``."""
    item = _existing(request)
    store_of(request).collection(scope_of(request), DATASETS).remove(item["id"])
    return JSONResponse([f"@/dataSets/{item['id']}"])


def _next_version(version: str) -> str:
    major, _, rest = version.partition(".")
    minor, _, patch = rest.partition(".")
    return f"{major or 1}.{minor or 0}.{int(patch or 0) + 1}"


async def patch_dataset(request: Request) -> Response:
    """``PATCH /dataSets/<id>``: change top-level fields, given as an object or as a JSON Patch
    (``application/json-patch+json``); 200 ``["@/dataSets/<id>"]``."""
    store, scope = store_of(request), scope_of(request)
    changes = await json_body(request, _bad_body)
    item = _existing(request)  # after the await: no other request can interleave from here
    if isinstance(changes, list):
        changes = _patched_fields(item, changes)
    if not isinstance(changes, dict) or not changes:
        raise _bad(1001, "The request body must be a non-empty JSON object or JSON Patch")
    _validate({"name": item["name"], **changes})
    updated: Item = {**item, **{k: changes[k] for k in _WRITABLE if k in changes}}
    if "schemaRef" in changes or "schema" in changes:
        updated["schemaRef"] = _schema_ref(store, scope, changes)
    client = request.headers.get("x-api-key", "")
    updated["updated"] = store.clock.now_ms()
    updated["updatedUser"] = f"{client or 'client'}@AdobeID"
    updated["version"] = _next_version(str(item.get("version", "1.0.0")))
    store.collection(scope, DATASETS).replace(item["id"], updated)
    return JSONResponse([f"@/dataSets/{item['id']}"])


def _patched_fields(item: Item, operations: list[Any]) -> Item:
    """The writable fields of a dataset after a JSON Patch of them."""
    fields = {key: item[key] for key in _WRITABLE if key in item}
    try:
        return apply_patch(fields, operations, writable=_WRITABLE)
    except PatchError as error:
        raise _bad(1001, str(error)) from None


def routes() -> list[BaseRoute]:
    """Catalog's routes."""
    return [
        Route(f"{BASE}/dataSets", create_dataset, methods=["POST"]),
        Route(f"{BASE}/dataSets", list_datasets, methods=["GET"]),
        Route(f"{BASE}/dataSets/{{dataset_id}}", get_dataset, methods=["GET"]),
        Route(f"{BASE}/dataSets/{{dataset_id}}", delete_dataset, methods=["DELETE"]),
        Route(f"{BASE}/dataSets/{{dataset_id}}", patch_dataset, methods=["PATCH"]),
    ]

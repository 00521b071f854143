"""Data Prep (``/data/foundation/conversion``): mapping sets from source columns to XDM paths.

``POST /mappingSets`` answers 200 with ``{id, version, createdDate, modifiedDate, createdBy,
modifiedBy}``; ``GET /mappingSets/<id>`` the stored shape (``?version=`` an earlier one,
``?expandSchema=true`` adds the output schema's JSON Schema); ``GET /mappingSets`` a page
(``limit``, ``start``, ``orderBy``); ``PUT`` stores the next version. There is no DELETE, as in
the real API. The target schema must exist and every destination must be one of its fields.

Data Prep does not document its error codes; the emulator answers in the Platform's generic
shape with ``DP-<code>-<status>``: 1001-400 malformed body, 1002-400 schema not found,
1003-400 a destination not in the schema, 1004-400 a destination mapped twice, 1005-400 bad
query parameter, 1006-404 mapping set (or mapping, or version) not found, 1007-405 delete.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.errors import DATAPREP, ServiceError, json_body, not_found
from emulator.mappingdocs import (
    MappingSetError,
    MappingSetRequest,
    Stamp,
    build_mapping_set,
    read_request,
    summary,
)
from emulator.registrystore import find_schema, schema_fields
from emulator.schemadocs import properties_of_fields
from emulator.state import MAPPING_SETS, Item, new_hex, scope_of, store_of
from emulator.xdm import missing_destinations

BASE = "/data/foundation/conversion"
HISTORY = "_history"
DEFAULT_LIMIT = 10
MAX_LIMIT = 500
_ORDER_KEYS = {
    "createdDate": "createdDate",
    "updatedDate": "modifiedDate",
    "lastUpdateDate": "modifiedDate",
}


def _bad(code: int, message: str) -> ServiceError:
    return ServiceError(DATAPREP, code, 400, message)


async def _read(request: Request) -> MappingSetRequest:
    body = await json_body(request, lambda message: _bad(1001, message))
    try:
        mapping_set = read_request(body)
    except MappingSetError as error:
        raise _bad(error.code, str(error)) from None
    _check_destinations(request, mapping_set)
    return mapping_set


def _check_destinations(request: Request, mapping_set: MappingSetRequest) -> None:
    fields = schema_fields(store_of(request), scope_of(request), mapping_set.schema_id)
    if fields is None:
        raise _bad(1002, f"The schema {mapping_set.schema_id} does not exist in this sandbox")
    destinations = [m.destination for m in mapping_set.mappings]
    missing = missing_destinations(fields, destinations)
    if missing:
        raise _bad(
            1003,
            f"Destination paths not found in schema {mapping_set.schema_id}: {', '.join(missing)}",
        )


def _stamp(request: Request) -> Stamp:
    client = request.headers.get("x-api-key", "") or "client"
    return Stamp(f"{client}@AdobeID", store_of(request).clock.now_ms())


def _new_id() -> str:
    return new_hex(32)


def _render(item: Item) -> Item:
    return {key: value for key, value in item.items() if key != HISTORY}


async def create_mapping_set(request: Request) -> Response:
    """``POST /mappingSets``: 200 with the id, version and audit fields."""
    mapping_set = await _read(request)
    document = build_mapping_set(mapping_set, _stamp(request), _new_id)
    stored = {**document, HISTORY: {"0": document}}
    store_of(request).collection(scope_of(request), MAPPING_SETS).add(document["id"], stored)
    return JSONResponse(summary(document))


def _existing(request: Request) -> Item:
    mapping_set_id = request.path_params["mapping_set_id"]
    item = store_of(request).collection(scope_of(request), MAPPING_SETS).get(mapping_set_id)
    if item is None:
        raise not_found(DATAPREP, 1006, "mappingSets", mapping_set_id)
    return item


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise _bad(1005, f"{name} must be true or false")
    return value == "true"


def _integer(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise _bad(1005, f"{name} must be an integer between {low} and {high}, got {text!r}")
    return value


def _expanded(request: Request, document: Item) -> Item:
    schema_id = document["xdmSchema"]
    fields = schema_fields(store_of(request), scope_of(request), schema_id) or {}
    schema = find_schema(store_of(request), scope_of(request), schema_id) or {}
    json_schema = {
        "id": schema_id,
        "title": schema.get("title"),
        "type": "object",
        "properties": properties_of_fields(fields),
        "xdmVersion": document["xdmVersion"],
    }
    output = {**document["outputSchema"], "jsonSchema": json_schema}
    return {**document, "outputSchema": output}


async def get_mapping_set(request: Request) -> Response:
    """``GET /mappingSets/<id>``: the stored mapping set (latest, or ``?version=``)."""
    item = _existing(request)
    latest = int(item["version"])
    version = _integer(request, "version", latest, 0, 2**31)
    document = item[HISTORY].get(str(version))
    if document is None:
        raise not_found(DATAPREP, 1006, "mappingSets", f"{item['id']} version {version}")
    if _flag(request, "expandSchema"):
        document = _expanded(request, document)
    return JSONResponse(document)


async def update_mapping_set(request: Request) -> Response:
    """``PUT /mappingSets/<id>``: store the next version and answer with it."""
    mapping_set = await _read(request)
    item = _existing(request)  # after the await: no other request can interleave from here
    document = build_mapping_set(mapping_set, _stamp(request), _new_id, previous=item)
    history = {**item[HISTORY], str(document["version"]): document}
    stored = {**document, HISTORY: history}
    store_of(request).collection(scope_of(request), MAPPING_SETS).replace(item["id"], stored)
    return JSONResponse(document)


def _order(request: Request) -> tuple[str, bool]:
    text = request.query_params.get("orderBy", "-lastUpdateDate").strip()
    descending = text.startswith("-")
    key = _ORDER_KEYS.get(text.lstrip("+- "))
    if key is None:
        raise _bad(1005, f"orderBy must be [+|-]createdDate or [+|-]updatedDate, got {text!r}")
    return key, descending


async def list_mapping_sets(request: Request) -> Response:
    """``GET /mappingSets``: one page, ``{"data", "_page", "_links"}``."""
    limit = _integer(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    start = _integer(request, "start", 0, 0, 2**31)
    key, descending = _order(request)
    _flag(request, "expandSchema")
    name = request.query_params.get("name")
    items = store_of(request).collection(scope_of(request), MAPPING_SETS).values()
    chosen = [_render(i) for i in items if name is None or i.get("name") == name]
    # Ties (one millisecond) keep creation order, reversed with the rest: newest first stays so.
    ranked = sorted(enumerate(chosen), key=lambda p: (int(p[1][key]), p[0]), reverse=descending)
    chosen = [item for _, item in ranked]
    page = chosen[start : start + limit]
    links: dict[str, Any] = {}
    if start + limit < len(chosen):
        query = {**dict(request.query_params), "start": start + limit, "limit": limit}
        links["next"] = {"href": f"{BASE}/mappingSets?{urlencode(query)}"}
    body = {"data": page, "_page": {"count": len(page), "limit": limit}, "_links": links}
    return JSONResponse(body)


async def list_mappings(request: Request) -> Response:
    """``GET /mappingSets/<id>/mappings``: the mappings of the latest version."""
    return JSONResponse(_existing(request)["mappings"])


async def get_mapping(request: Request) -> Response:
    """``GET /mappingSets/<id>/mappings/<mappingId>``: one mapping."""
    item = _existing(request)
    mapping_id = request.path_params["mapping_id"]
    for mapping in item["mappings"]:
        if mapping["id"] == mapping_id:
            return JSONResponse(mapping)
    raise not_found(DATAPREP, 1006, "mappings", mapping_id)


async def validate_mapping_set(request: Request) -> Response:
    """``POST /mappingSets/validate``: one status per mapping; refusals as for a create."""
    mapping_set = await _read(request)
    results = [{"status": "SUCCESS", "errors": None} for _ in mapping_set.mappings]
    return JSONResponse({"validationResponse": results})


async def refuse_delete(request: Request) -> Response:
    """``DELETE /mappingSets/<id>``: the API has no delete; 405."""
    message = "Mapping sets cannot be deleted"
    raise ServiceError(DATAPREP, 1007, 405, message, title="Method Not Allowed")


def routes() -> list[BaseRoute]:
    """Data Prep's routes."""
    one = f"{BASE}/mappingSets/{{mapping_set_id}}"
    return [
        Route(f"{BASE}/mappingSets", create_mapping_set, methods=["POST"]),
        Route(f"{BASE}/mappingSets", list_mapping_sets, methods=["GET"]),
        Route(f"{BASE}/mappingSets/validate", validate_mapping_set, methods=["POST"]),
        Route(one, get_mapping_set, methods=["GET"]),
        Route(one, update_mapping_set, methods=["PUT"]),
        Route(one, refuse_delete, methods=["DELETE"]),
        Route(f"{one}/mappings", list_mappings, methods=["GET"]),
        Route(f"{one}/mappings/{{mapping_id}}", get_mapping, methods=["GET"]),
    ]

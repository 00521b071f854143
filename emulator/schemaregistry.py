"""Schema Registry (``/data/foundation/schemaregistry``): tenant schemas and field groups.

Tenant schemas compose exactly one standard class with standard or tenant field groups; tenant
field groups define their own fields under ``_<tenant>``. Global classes and field groups come
from the packaged XDM catalogue (``emulator.xdm``). Titles are unique across the sandbox's
schemas and field groups. Lookups need a versioned ``Accept`` header, lists an unversioned one.

Error codes (``XDM-<code>-<status>``): 1000-400 malformed body, 1006-400 list ``Accept``
invalid, 1007-400 lookup ``Accept`` invalid, 1012-404 resource not found, 1020-400 custom fields
outside the tenant namespace, 1521-400 title not unique; the registry does not document its
composition errors, so the emulator uses 1301-400 (a ``$ref`` that resolves to nothing),
1302-400 (not exactly one class), 1303-400 (a field group not intended for the class) and
1400-400 (a bad list query).

Deleting a resource that is still in use is refused with 1304-400, titled "Resource in use": a
tenant field group that a schema includes (``allOf`` or ``meta:extends``), a tenant schema that
a Catalog dataset refers to (``schemaRef.id``); the message names the first user. This is an
assumption: Adobe documents no code for it, only that dependent resources must be deleted first,
and 400 with a code of the registry's own is how the registry refuses everything else.

Other services read schemas through ``emulator.registrystore`` (re-exported here:
``find_schema``, ``schema_fields``, ``schema_field_paths``, ``tenant_id_of``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.dependents import datasets_using, schemas_using
from emulator.errors import XDM, ServiceError, json_body
from emulator.registrylist import ListQuery, ListQueryError, paginate, parse_query, select
from emulator.registrystats import registry_stats
from emulator.registrystore import (
    find_schema,
    find_tenant_resource,
    schema_field_paths,
    schema_fields,
    tenant_id_of,
)
from emulator.schemadocs import (
    Composition,
    CompositionError,
    compose_schema,
    field_group_document,
    global_document,
    properties_of_fields,
    schema_document,
    schema_fields_from,
    strip_internal,
)
from emulator.state import (
    FIELD_GROUPS,
    SCHEMAS,
    Item,
    Scope,
    Store,
    new_hex,
    scope_of,
    store_of,
)
from emulator.xdm import (
    NamespaceError,
    SchemaDefinitionError,
    standard_catalogue,
    tenant_field_paths,
)

__all__ = ["find_schema", "routes", "schema_field_paths", "schema_fields", "tenant_id_of"]

BASE = "/data/foundation/schemaregistry"

_LOOKUP_ACCEPT = re.compile(
    r"^application/vnd\.adobe\.(?:xed|xdm)(?P<variant>-[a-z-]+)?\+json\s*;\s*version\s*=\s*"
    r"(?P<version>\d+(?:\.\d+)?)\s*$"
)
_LIST_ACCEPT = re.compile(r"^application/vnd\.adobe\.(?:xed|xdm)(?P<variant>-id)?\+json\s*$")
_VARIANTS = {"", "-full", "-notext", "-full-notext", "-full-desc", "-deprecatefield"}
_KIND_OF_PATH = {"schemas": SCHEMAS, "fieldgroups": FIELD_GROUPS, "mixins": FIELD_GROUPS}
_LISTABLE = {"schemas", "fieldgroups", "mixins", "classes"}
_GLOBAL_PATHS = {"class": {"classes"}, "fieldgroup": {"fieldgroups", "mixins"}}


def _error(code: int, status: int, message: str, title: str | None = None) -> ServiceError:
    report = {
        "registryRequestId": str(uuid.uuid4()),
        "timestamp": time.strftime("%m-%d-%Y %H:%M:%S", time.gmtime()),
        "sub-errors": [],
    }
    return ServiceError(XDM, code, status, message, title=title, report=report)


def _not_found(ref: str, version: str = "1") -> ServiceError:
    message = f"Requested resource {ref} with version {version} is not found"
    return _error(1012, 404, message, "Resource Not Found")


def _bad_body(message: str) -> ServiceError:
    return _error(1000, 400, message, "Invalid request")


def _title_taken(store: Store, scope: Scope, title: str) -> Item | None:
    for kind in (SCHEMAS, FIELD_GROUPS):
        taken = store.collection(scope, kind).find("title", title)
        if taken:
            return taken[0]
    return None


def _check_title(store: Store, scope: Scope, body: Any) -> str:
    if not isinstance(body, dict):
        raise _bad_body("The request body must be a JSON object")
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _bad_body("title is required and must be a non-empty string")
    taken = _title_taken(store, scope, title)
    if taken is not None:
        message = (
            "Object titles must be unique. "
            f"An object {taken['$id']} already exists with the same title"
        )
        raise _error(1521, 400, message, "Title not unique")
    return title


def _context(request: Request) -> Composition:
    scope = scope_of(request)
    client = request.headers.get("x-api-key", "")
    return Composition(
        tenant=tenant_id_of(scope.org),
        org=scope.org,
        sandbox=scope.sandbox,
        client_id=client,
        user_id=f"{client or 'client'}@AdobeID",
        now_ms=store_of(request).clock.now_ms(),
    )


async def create_schema(request: Request) -> Response:
    """``POST /tenant/schemas``: 201 with the full schema."""
    store, scope = store_of(request), scope_of(request)
    body = await json_body(request, _bad_body)
    _check_title(store, scope, body)
    groups = store.collection(scope, FIELD_GROUPS)
    context = _context(request)
    try:
        parts = compose_schema(
            body, standard_catalogue(), lambda ref: find_tenant_resource(groups, ref)
        )
    except CompositionError as error:
        raise _error(error.code, 400, str(error)) from None
    document = schema_document(body, parts, context, new_hex(32))
    store.collection(scope, SCHEMAS).add(document["$id"], document)
    return JSONResponse(strip_internal(document), status_code=201)


async def create_field_group(request: Request) -> Response:
    """``POST /tenant/fieldgroups``: 201 with the full field group."""
    store, scope = store_of(request), scope_of(request)
    body = await json_body(request, _bad_body)
    _check_title(store, scope, body)
    context = _context(request)
    extends = body.get("meta:intendedToExtend", [])
    if not isinstance(extends, list) or not all(isinstance(e, str) for e in extends):
        raise _bad_body("meta:intendedToExtend must be a list of class $id values")
    unknown = [e for e in extends if e not in standard_catalogue().classes]
    if unknown:
        raise _error(1301, 400, f"meta:intendedToExtend names unknown classes: {unknown}")
    if not isinstance(body.get("definitions"), dict):
        raise _bad_body("definitions is required and must be an object")
    try:
        tenant_field_paths(body, context.tenant)
    except NamespaceError as error:
        raise _error(1020, 400, str(error), "Namespace error") from None
    except SchemaDefinitionError as error:
        raise _bad_body(str(error)) from None
    document = field_group_document(body, context, new_hex(32))
    store.collection(scope, FIELD_GROUPS).add(document["$id"], document)
    return JSONResponse(strip_internal(document), status_code=201)


def _lookup_variant(request: Request) -> tuple[str, str]:
    accept = request.headers.get("accept", "")
    match = _LOOKUP_ACCEPT.match(accept)
    if match is None or (match["variant"] or "") not in _VARIANTS:
        message = (
            f"The supplied Accept header is not valid: {accept} - A valid Accept value should "
            "look like application/vnd.adobe.'{xed|xdm'}+json; version=1 "
            "(Version should be specified)"
        )
        raise _error(1007, 400, message, "Accept header invalid")
    return match["variant"] or "", match["version"]


def _list_variant(request: Request) -> str:
    accept = request.headers.get("accept", "")
    match = _LIST_ACCEPT.match(accept)
    if match is None:
        message = (
            f"The supplied Accept header is not valid: {accept} - A valid Accept value should "
            "look like application/vnd.adobe.'{xed|xdm'}+json"
        )
        raise _error(1006, 400, message, "Accept header invalid")
    return match["variant"] or ""


def _global_items(request: Request, kind: str) -> list[Item]:
    catalogue = standard_catalogue()
    if kind == "classes":
        return [global_document(c) for c in catalogue.classes.values()]
    if kind in ("fieldgroups", "mixins"):
        usage = _usage(request)
        return [global_document(g, usage[g.id]) for g in catalogue.field_groups.values()]
    return []


def _usage(request: Request) -> Counter[str]:
    """How many of the sandbox's schemas use each class and field group."""
    schemas = store_of(request).collection(scope_of(request), SCHEMAS).values()
    return Counter(ref for schema in schemas for ref in schema.get("refs", ()))


def _location(request: Request) -> tuple[str, str]:
    container, kind = request.path_params["container"], request.path_params["kind"]
    if container not in ("tenant", "global") or kind not in _LISTABLE:
        raise _not_found(request.url.path)
    return container, kind


async def lookup(request: Request) -> Response:
    """``GET /{tenant|global}/{schemas|fieldgroups|mixins|classes}/{id}``."""
    container, kind = _location(request)
    ref = unquote(request.path_params["ref"])
    variant, version = _lookup_variant(request)
    if version.split(".")[0] != "1":
        raise _not_found(ref, version)
    found: Item | None = None
    if container == "tenant" and kind in _KIND_OF_PATH:
        coll = store_of(request).collection(scope_of(request), _KIND_OF_PATH[kind])
        found = find_tenant_resource(coll, ref)
    elif container == "global":
        standard = standard_catalogue().find(ref)
        if standard is not None and kind in _GLOBAL_PATHS[standard.kind]:
            found = global_document(standard, _usage(request)[standard.id])
    if found is None:
        raise _not_found(ref, version)
    document = strip_internal(found)
    if "full" in variant:
        document = _with_properties(request, document)
    return JSONResponse(document)


def _with_properties(request: Request, document: Item) -> Item:
    scope = scope_of(request)
    groups = store_of(request).collection(scope, FIELD_GROUPS)
    if (
        document.get("meta:resourceType") == "mixins"
        and document.get("meta:containerId") == "tenant"
    ):
        fields = tenant_field_paths(document, tenant_id_of(scope.org))
    else:
        standard = standard_catalogue().find(document["$id"])
        own = standard.fields if standard is not None else {}
        fields = {**own, **schema_fields_from(document, groups.get, tenant_id_of(scope.org))}
    return {**document, "properties": properties_of_fields(fields)}


def _summary(item: Mapping[str, Any]) -> Item:
    return {key: item.get(key) for key in ("$id", "meta:altId", "version", "title")}


async def list_resources(request: Request) -> Response:
    """``GET /{tenant|global}/{schemas|fieldgroups|mixins|classes}``: one page of results."""
    container, kind = _location(request)
    variant = _list_variant(request)
    params = {key: request.query_params.getlist(key) for key in request.query_params}
    try:
        query = parse_query(params)
        items = _candidates(request, container, kind, query)
        chosen = select(items, query)
    except ListQueryError as error:
        raise _error(1400, 400, str(error)) from None
    page = paginate(chosen, query)
    results = [_summary(i) if variant == "-id" else strip_internal(i) for i in page.items]
    next_href = None
    if page.next_start is not None:
        query_text = urlencode({**_flat(params), "start": page.next_start})
        next_href = f"{request.url.scheme}://{request.url.netloc}{request.url.path}?{query_text}"
    body: Item = {
        "results": results,
        "_page": {
            "orderby": query.orderby_text,
            "next": page.next_start,
            "count": len(results),
        },
        "_links": {"next": next_href},
    }
    if kind == "schemas":
        base = f"{request.url.scheme}://{request.url.netloc}{BASE}"
        body["_links"]["global_schemas"] = {"href": f"{base}/global/schemas"}
    return JSONResponse(body)


def _flat(params: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[-1] for key, values in params.items() if key != "start"}


def _candidates(request: Request, container: str, kind: str, query: ListQuery) -> list[Item]:
    if container == "global":
        return _global_items(request, kind)
    if kind not in _KIND_OF_PATH:
        return []
    coll = store_of(request).collection(scope_of(request), _KIND_OF_PATH[kind])
    title = query.exact("title")
    if title is not None:
        return coll.find("title", title)
    alt_id = query.exact("meta:altId")
    if alt_id is not None:
        return coll.find("meta:altId", alt_id)
    return list(coll.values())


async def delete(request: Request) -> Response:
    """``DELETE /tenant/{schemas|fieldgroups|mixins}/{id}``: 204, unless still in use (1304)."""
    kind = request.path_params["kind"]
    ref = unquote(request.path_params["ref"])
    if kind not in _KIND_OF_PATH:
        raise _not_found(ref)
    store, scope = store_of(request), scope_of(request)
    coll = store.collection(scope, _KIND_OF_PATH[kind])
    found = find_tenant_resource(coll, ref)
    if found is None:
        raise _not_found(ref)
    _refuse_if_used(store, scope, _KIND_OF_PATH[kind], found["$id"])
    coll.remove(found["$id"])
    return Response(status_code=204)


def _refuse_if_used(store: Store, scope: Scope, kind: str, resource_id: str) -> None:
    """Refuse to delete a field group a schema includes, or a schema a dataset refers to."""
    if kind == SCHEMAS:
        users = [(d["id"], d.get("name")) for d in datasets_using(store, scope, resource_id)]
        what, user_kind = "schema", "dataset"
    else:
        users = [(s["$id"], s.get("title")) for s in schemas_using(store, scope, resource_id)]
        what, user_kind = "field group", "schema"
    if users:
        user_id, user_name = users[0]
        message = (
            f"The {what} {resource_id} is used by {user_kind} {user_id} ({user_name}); "
            f"delete the {user_kind} first"
        )
        raise _error(1304, 400, message, "Resource in use")


def routes() -> list[BaseRoute]:
    """The Schema Registry's routes."""
    kinds = "{kind:str}"
    return [
        Route(f"{BASE}/stats", registry_stats, methods=["GET"]),
        Route(f"{BASE}/tenant/schemas", create_schema, methods=["POST"]),
        Route(f"{BASE}/tenant/fieldgroups", create_field_group, methods=["POST"]),
        Route(f"{BASE}/tenant/mixins", create_field_group, methods=["POST"]),
        Route(f"{BASE}/{{container:str}}/{kinds}", list_resources, methods=["GET"]),
        Route(f"{BASE}/{{container:str}}/{kinds}/{{ref:path}}", lookup, methods=["GET"]),
        Route(f"{BASE}/tenant/{kinds}/{{ref:path}}", delete, methods=["DELETE"]),
    ]

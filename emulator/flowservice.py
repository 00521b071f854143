"""Flow Service: connection and flow specs, base, source and target connections, flows, runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator import specs
from emulator.dependents import flows_using
from emulator.errors import FLOW, ServiceError, bad_request, invalid_content_type, not_found
from emulator.filters import Condition, QueryError, order, parse_property, select
from emulator.flowcheck import check_flow, stored_fields
from emulator.flowcreate import (
    audit,
    build_connection,
    build_flow,
    build_source_connection,
    build_target_connection,
    masked_auth,
)
from emulator.flowpaging import ListQuery, next_href, paginate, parse_query
from emulator.flowrules import start_time_problem
from emulator.jsonpatch import PatchError, apply_patch
from emulator.state import (
    CONNECTIONS,
    FLOWS,
    RUNS,
    SOURCE_CONNECTIONS,
    TARGET_CONNECTIONS,
    Collection,
    Item,
    Scope,
    Store,
    new_etag,
    scope_of,
    store_of,
)

BASE = "/data/foundation/flowservice"
Builder = Callable[[Store, Scope, dict[str, Any], Item], Item]
_BUILDERS: dict[str, Builder] = {
    CONNECTIONS: build_connection,
    SOURCE_CONNECTIONS: build_source_connection,
    TARGET_CONNECTIONS: build_target_connection,
    FLOWS: build_flow,
}
_CONNECTION_SPECS = specs.connection_specs()
_FLOW_SPECS = specs.flow_specs()


def _parse_json(request: Request, raw: bytes) -> Any:
    if "application/json" not in request.headers.get("content-type", ""):
        raise invalid_content_type()
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request(FLOW, 1400, "The request body is not valid JSON.") from None


def _query(request: Request) -> ListQuery:
    params = {key: request.query_params.getlist(key) for key in request.query_params}
    try:
        return parse_query(params)
    except QueryError as error:
        raise bad_request(FLOW, error.code, str(error)) from None


#: Fields whose string values a collection's index (or key) can answer ``==`` for.
_INDEXED_STRINGS = ("id", "name", "baseConnectionId", "flowId")


def _candidates(coll: Collection, conditions: list[Condition]) -> list[Item]:
    """The items a list query must look at: through an index when a condition allows it."""
    for condition in conditions:
        field = condition.path[0] if len(condition.path) == 1 else ""
        usable = field == "id" or (field in _INDEXED_STRINGS and coll.is_indexed(field))
        if condition.op == "==" and usable:
            return coll.find_any(field, condition.values)
    return list(coll.values())


def _list_response(request: Request, kind: str, coll: Collection) -> Response:
    query = _query(request)
    conditions = query.conditions()
    items = _candidates(coll, conditions)
    try:
        chosen = order(select(items, conditions), query.orderby)
    except QueryError as error:
        raise bad_request(FLOW, error.code, str(error)) from None
    if query.count:
        return JSONResponse({"count": len(chosen)})
    page, next_token = paginate(chosen, query)
    links = {"next": {"href": next_href(kind, next_token)}} if next_token else {}
    return JSONResponse({"items": page, "_links": links})


def _lookup(request: Request, kind: str) -> tuple[Scope, Item]:
    item_id = request.path_params["id"]
    scope = scope_of(request)
    item = store_of(request).collection(scope, kind).get(item_id)
    if item is None:
        raise not_found(FLOW, 1439, kind, item_id)
    return scope, item


def _kind_handlers(kind: str) -> list[BaseRoute]:
    """Create, list, get, patch and delete routes for one kind of Flow Service resource."""
    builder = _BUILDERS.get(kind)

    async def create(request: Request) -> Response:
        """POST: validate, store, answer 201 ``{id, etag}`` with a Location."""
        body = _parse_json(request, await request.body())
        if not isinstance(body, dict):
            raise bad_request(FLOW, 1400, "The request body must be a JSON object.")
        store, scope = store_of(request), scope_of(request)
        client = request.headers.get("x-api-key", "")
        assert builder is not None
        item = builder(store, scope, body, audit(scope, store.clock.now_ms(), client))
        store.collection(scope, kind).add(item["id"], item)
        location = f"{BASE}/{kind}/{item['id']}"
        body_out = {"id": item["id"], "etag": item["etag"]}
        return JSONResponse(body_out, status_code=201, headers={"Location": location})

    async def list_items(request: Request) -> Response:
        """GET the list: filters, order, paging or count."""
        coll = store_of(request).collection(scope_of(request), kind)
        return _list_response(request, kind, coll)

    async def get_item(request: Request) -> Response:
        """GET by id, in the ``{"items": [...]}`` wrapper."""
        _, item = _lookup(request, kind)
        return JSONResponse({"items": [item]})

    async def patch_item(request: Request) -> Response:
        # The body is read first: no await may come between reading the item and replacing it.
        """PATCH: JSON Patch under ``if-match``; answers the new etag."""
        raw = await request.body()
        scope, item = _lookup(request, kind)
        expected = request.headers.get("if-match")
        if not expected:
            raise bad_request(FLOW, 1403, "The if-match header is required to update an entity.")
        if _bare(expected) != _bare(item["etag"]):
            message = (
                f"Supplied version=[{expected}] does not match the current version "
                f"on entity=[{item['etag']}]"
            )
            raise ServiceError(FLOW, 1404, 412, message, title="Version not matching")
        operations = _parse_json(request, raw)
        if kind == CONNECTIONS and isinstance(operations, dict):
            operations = [operations]  # the spec types this body as one PatchInstruction
        try:
            patched = apply_patch(item, operations)
        except PatchError as error:
            raise bad_request(FLOW, 1400, str(error)) from None
        if kind == CONNECTIONS:
            patched["auth"] = masked_auth(patched.get("auth"))
        store = store_of(request)
        if kind == FLOWS:
            patched = _revalidated_flow(store, scope, item, patched)
        now, etag = store.clock.now_ms(), new_etag()
        client = request.headers.get("x-api-key", "")
        patched.update(etag=etag, version=etag, updatedAt=now, updatedClient=client)
        patched["updatedBy"] = f"{client}@AdobeID"
        if kind == FLOWS:
            patched["lastOperation"] = {"started": now, "updated": now, "operation": "update"}
        store.collection(scope, kind).replace(item["id"], patched)
        return JSONResponse({"id": item["id"], "etag": etag})

    async def delete_item(request: Request) -> Response:
        """DELETE: 204, unless a flow still uses the connection (``1418``)."""
        scope, item = _lookup(request, kind)
        store = store_of(request)
        _refuse_if_used(store, scope, kind, item["id"])
        store.collection(scope, kind).remove(item["id"])
        return Response(status_code=204)

    routes: list[BaseRoute] = [Route(f"{BASE}/{kind}", list_items, methods=["GET"])]
    if builder is not None:
        routes.append(Route(f"{BASE}/{kind}", create, methods=["POST"]))
    routes.append(Route(f"{BASE}/{kind}/{{id}}", get_item, methods=["GET"]))
    if builder is not None:
        routes.append(Route(f"{BASE}/{kind}/{{id}}", patch_item, methods=["PATCH"]))
        routes.append(Route(f"{BASE}/{kind}/{{id}}", delete_item, methods=["DELETE"]))
    return routes


_ACTION_STATES = {"ENABLE": "enabled", "DISABLE": "disabled"}


async def flow_action(request: Request) -> Response:
    """``POST /flows/{id}/action?op=ENABLE|DISABLE``: switch a flow on or off (new etag)."""
    scope, flow = _lookup(request, FLOWS)
    op = request.query_params.get("op", "").upper()
    if op not in _ACTION_STATES:
        raise bad_request(FLOW, 1400, f"Unsupported op {op or '(none)'}; use ENABLE or DISABLE.")
    expected = request.headers.get("if-match")
    if expected and _bare(expected) != _bare(flow["etag"]):
        message = f"Supplied version=[{expected}] does not match the current version"
        raise ServiceError(FLOW, 1404, 412, message, title="Version not matching")
    store = store_of(request)
    now, etag = store.clock.now_ms(), new_etag()
    updated = {
        **flow,
        "state": _ACTION_STATES[op],
        "etag": etag,
        "version": etag,
        "updatedAt": now,
        "lastOperation": {"started": now, "updated": now, "operation": op.lower()},
    }
    store.collection(scope, FLOWS).replace(flow["id"], updated)
    return JSONResponse({"id": flow["id"], "etag": etag})


def _bare(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


def _revalidated_flow(store: Store, scope: Scope, before: Item, patched: Item) -> Item:
    """A patched flow checked as a new one is (``emulator.flowcheck``), its derived fields
    rebuilt; its start time may not move once the scheduled start has passed."""
    # A flow created without a schedule is stored with ``{}``: that is no schedule to check.
    schedule = patched.get("scheduleParams") or None
    checked = check_flow(store, scope, {**patched, "scheduleParams": schedule})
    problem = start_time_problem(before.get("scheduleParams"), checked.schedule, store.clock.now())
    if problem:
        raise bad_request(FLOW, 1400, problem, problems=[problem])
    return {**patched, **stored_fields(store, scope, checked, patched)}


_USED_KINDS = {
    CONNECTIONS: "Base connection",
    SOURCE_CONNECTIONS: "Source connection",
    TARGET_CONNECTIONS: "Target connection",
}


def _refuse_if_used(store: Store, scope: Scope, kind: str, item_id: str) -> None:
    """Refuse to delete a connection a flow uses: ``1418``, naming the flows."""
    flows = flows_using(store, scope, kind, item_id)
    if flows:
        first = flows[0]
        message = (
            f"{_USED_KINDS[kind]} {item_id} is used by flow {first['id']} ({first.get('name')}); "
            "delete the flow first."
        )
        raise bad_request(FLOW, 1418, message, id=item_id, flowIds=[f["id"] for f in flows])


def _spec_handlers(kind: str, catalogue: list[Item]) -> list[BaseRoute]:
    by_id = {spec["id"]: spec for spec in catalogue}

    async def list_specs(request: Request) -> Response:
        """GET the specs, filtered by ``property=``."""
        try:
            conditions = [parse_property(p) for p in request.query_params.getlist("property")]
        except QueryError as error:
            raise bad_request(FLOW, error.code, str(error)) from None
        return JSONResponse({"items": select(catalogue, conditions)})

    async def get_spec(request: Request) -> Response:
        """GET one spec by id."""
        spec = by_id.get(request.path_params["id"])
        if spec is None:
            raise not_found(FLOW, 1439, kind, request.path_params["id"])
        return JSONResponse({"items": [spec]})

    return [
        Route(f"{BASE}/{kind}", list_specs, methods=["GET"]),
        Route(f"{BASE}/{kind}/{{id}}", get_spec, methods=["GET"]),
    ]


def routes() -> list[BaseRoute]:
    """The Flow Service routes."""
    out = _spec_handlers("connectionSpecs", _CONNECTION_SPECS)
    out += _spec_handlers("flowSpecs", _FLOW_SPECS)
    for kind in (CONNECTIONS, SOURCE_CONNECTIONS, TARGET_CONNECTIONS, FLOWS, RUNS):
        out += _kind_handlers(kind)
    out.append(Route(f"{BASE}/flows/{{id}}/action", flow_action, methods=["POST"]))
    return out

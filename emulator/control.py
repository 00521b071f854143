"""The control surface (contract section 7): resources, requests, faults, the clock, reset."""

from __future__ import annotations

import json
from collections import deque
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator import runs
from emulator.faults import CONTROL_PREFIX, Faults, FaultSettingsError
from emulator.state import FLOWS, KINDS, RUNS, Store, store_of


class RequestLog:
    """The most recent requests, oldest first; bounded, without headers or bodies."""

    def __init__(self, size: int = 1000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def record(self, method: str, path: str, status: int | None) -> None:
        """Remember one request (``status`` None: the connection was dropped)."""
        time = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self._entries.append({"method": method, "path": path, "status": status, "time": time})

    def entries(self) -> list[dict[str, Any]]:
        """Every remembered request, oldest first."""
        return list(self._entries)

    def clear(self) -> None:
        """Forget every request."""
        self._entries.clear()


class RequestLogMiddleware:
    """Records every request but the control surface's own in the app's ``RequestLog``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, noting the status it was answered with."""
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        status: int | None = None

        async def noting(message: Message) -> None:
            """Pass a message on, noting the status it starts."""
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            log: RequestLog = scope["app"].state.requests
            log.record(scope["method"], scope["path"], status)


def _name_field(kind: str) -> str:
    return KINDS[kind] or "name"


async def resources(request: Request) -> Response:
    """Every resource the emulator holds, by kind, each with its id and name (or title)."""
    store = store_of(request)
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, name_field in KINDS.items():
        field = _name_field(kind)
        out[kind] = [
            {
                "id": item_id,
                field: item.get(name_field) if name_field else None,
                "org": scope.org,
                "sandbox": scope.sandbox,
            }
            for scope, item_id, item in store.everything(kind)
        ]
    return JSONResponse(out)


async def requests(request: Request) -> Response:
    """The bounded request log, oldest first."""
    log: RequestLog = request.app.state.requests
    return JSONResponse(log.entries())


async def get_faults(request: Request) -> Response:
    """The fault settings in force."""
    faults: Faults = request.app.state.faults
    return JSONResponse(faults.settings.raw)


async def injected_faults(request: Request) -> Response:
    """How many faults were injected since the start, by kind (a drop counts when decided)."""
    faults: Faults = request.app.state.faults
    return JSONResponse(dict(sorted(faults.injected.items())))


async def set_faults(request: Request) -> Response:
    """Replace the fault settings; 400 with a reason when they are invalid."""
    faults: Faults = request.app.state.faults
    try:
        raw = json.loads(await request.body() or b"{}")
        settings = faults.replace(raw)
    except (ValueError, FaultSettingsError) as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    return JSONResponse(settings.raw)


def produce_runs(store: Store, seed: int | None, failure_rate: float) -> int:
    """Store the runs every enabled flow's schedule has completed by now; returns how many."""
    now_s = store.clock.now()
    produced = 0
    for scope, flow_id, flow in list(store.everything(FLOWS)):
        stored = store.collection(scope, RUNS)
        mine = stored.find("flowId", flow_id)
        existing = frozenset(run["id"] for run in mine)
        latest = max(mine, key=_started, default=None)
        for fired in runs.due_firings(flow, now_s, seed, existing=existing):
            first = latest is None
            run = runs.run_document(flow, fired, first=first, seed=seed, failure_rate=failure_rate)
            stored.add(run["id"], run)
            produced += 1
            if latest is None or _started(run) >= _started(latest):
                latest = run
        if latest is not None and flow.get("lastRunDetails") != runs.last_run_details(latest):
            details = runs.last_run_details(latest)
            store.collection(scope, FLOWS).replace(flow_id, {**flow, "lastRunDetails": details})
    return produced


def _started(run: dict[str, Any]) -> int:
    started: int = run["metrics"]["durationSummary"]["startedAtUTC"]
    return started


async def advance_clock(request: Request) -> Response:
    """Move the clock forward by ``advance_seconds`` and produce the runs due meanwhile."""
    try:
        body = json.loads(await request.body() or b"{}")
        seconds = body["advance_seconds"] if isinstance(body, dict) else None
    except (ValueError, KeyError):
        seconds = None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        message = "advance_seconds must be a non-negative number of seconds"
        return JSONResponse({"error": message}, status_code=400)
    store = store_of(request)
    settings = request.app.state.faults.settings
    store.clock.advance(float(seconds))
    produced = produce_runs(store, settings.seed, settings.run_failure_rate)
    now = datetime.fromtimestamp(store.clock.now(), UTC)
    iso = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return JSONResponse({"now": iso, "nowMs": store.clock.now_ms(), "runsProduced": produced})


async def reset(request: Request) -> Response:
    """Forget every resource, request and fault, and the count of faults injected."""
    store_of(request).reset()
    request.app.state.requests.clear()
    request.app.state.faults.replace({})
    request.app.state.faults.injected.clear()
    return Response(status_code=204)


def routes() -> list[BaseRoute]:
    """The control routes."""
    return [
        Route(f"{CONTROL_PREFIX}resources", resources, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}requests", requests, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}faults", get_faults, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}faults", set_faults, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}faults/injected", injected_faults, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}clock", advance_clock, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}reset", reset, methods=["POST"]),
    ]

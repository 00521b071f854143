"""The API gateway in front of every Platform service: token, API key, org and sandbox checks.

It also gives the services their path forms: Flow Service and the Schema Registry answer a path
with a trailing slash as they answer it without (``POST /tenant/schemas/``,
``PATCH /connections/{id}/``); Catalog and Data Prep know only the documented form (see
docs/emulator.md for what this rests on).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.errors import PLATFORM_PREFIX, gateway_error_body, service_error_body, service_of
from emulator.ims import TokenStore

#: The services that take a path with or without one trailing slash.
SLASH_TOLERANT = ("flowservice", "schemaregistry")


def canonical_path(path: str) -> str:
    """The path as the services route it: without the trailing slash where one is tolerated."""
    if not path.endswith("/") or not path.startswith(PLATFORM_PREFIX):
        return path
    service = path[len(PLATFORM_PREFIX) :].split("/", 1)[0]
    return path.rstrip("/") if service in SLASH_TOLERANT else path


def check(
    path: str, headers: Headers, tokens: TokenStore, sandboxes: frozenset[str]
) -> tuple[int, dict[str, Any]] | None:
    """The status and body the gateway answers instead of the service, or None to pass."""
    authorization = headers.get("authorization", "")
    if not authorization:
        return 403, gateway_error_body("403010", "Oauth token is missing.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or tokens.check(token.strip()) is None:
        return 401, gateway_error_body("401013", "Oauth token is not valid")
    api_key = headers.get("x-api-key", "")
    if not api_key:
        return 403, gateway_error_body("403000", "Api Key is required")
    if not tokens.known_client(api_key):
        return 403, gateway_error_body("403003", "Api Key is invalid")
    if not headers.get("x-gw-ims-org-id", ""):
        return 400, gateway_error_body("400003", "Missing header")
    sandbox = headers.get("x-sandbox-name")
    service = service_of(path)
    if not sandbox:
        message = "The x-sandbox-name header is missing. Provide the name of a sandbox."
        return 400, service_error_body(service, 2105, 400, message)
    if sandbox not in sandboxes:
        message = f"Sandbox {sandbox} not found. Verify the sandbox name before trying again."
        return 404, service_error_body(service, 2100, 404, message, report={"sandbox": sandbox})
    return None


class GatewayMiddleware:
    """Answers for the gateway before a request reaches a Platform service."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check Platform requests; pass everything else through."""
        if scope["type"] != "http" or not scope["path"].startswith(PLATFORM_PREFIX):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        refusal = check(scope["path"], Headers(scope=scope), state.tokens, state.emulator.sandboxes)
        if refusal is None:
            await self.app(_routed(scope), receive, send)
            return
        status, body = refusal
        await send_json(send, status, body)


def _routed(scope: Scope) -> Scope:
    path = canonical_path(scope["path"])
    if path == scope["path"]:
        return scope
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return {**scope, "path": path, "raw_path": raw_path.rstrip(b"/")}


async def send_json(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a whole JSON response through a raw ASGI ``send``."""
    payload = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})

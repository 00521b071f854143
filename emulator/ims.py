"""IMS: ``POST /ims/token/v3`` issues bearer tokens for client credentials, OAuth style."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.state import Clock


@dataclass(frozen=True)
class Token:
    """An issued access token: who holds it and when it stops working."""

    client_id: str
    expires_at: float


class TokenStore:
    """Issues and checks access tokens; ``clients`` None means any non-empty credentials."""

    def __init__(self, clock: Clock, ttl: int, clients: dict[str, str] | None = None) -> None:
        self.clock = clock
        self.ttl = ttl
        self.clients = clients
        self._tokens: dict[str, Token] = {}

    def credentials_ok(self, client_id: str, client_secret: str) -> bool:
        """Whether IMS accepts this client id and secret."""
        if not client_id or not client_secret:
            return False
        if self.clients is None:
            return True
        expected = self.clients.get(client_id)
        return expected is not None and secrets.compare_digest(expected, client_secret)

    def known_client(self, client_id: str) -> bool:
        """Whether an API key names a client this IMS knows (any, when unrestricted)."""
        return self.clients is None or client_id in self.clients

    def issue(self, client_id: str) -> str:
        """A new token for ``client_id``, live for ``ttl`` seconds."""
        now = self.clock.now()
        if len(self._tokens) > 10_000:
            self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
        token = "emu-" + secrets.token_urlsafe(32)
        self._tokens[token] = Token(client_id, now + self.ttl)
        return token

    def check(self, token: str) -> Token | None:
        """The live token, or None when unknown or expired."""
        found = self._tokens.get(token)
        if found is None or found.expires_at <= self.clock.now():
            return None
        return found


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def issue_token(request: Request) -> Response:
    """Exchange client credentials (form body or query string) for an access token."""
    tokens: TokenStore = request.app.state.tokens
    params = dict(request.query_params)
    body = (await request.body()).decode("utf-8", "replace")
    params.update(parse_qsl(body, keep_blank_values=True))
    grant_type = params.get("grant_type", "")
    client_id = params.get("client_id", "")
    client_secret = params.get("client_secret", "")
    if not grant_type:
        return _oauth_error(400, "invalid_request", "missing grant_type parameter")
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", f"unsupported grant_type {grant_type}")
    if not client_id:
        return _oauth_error(400, "invalid_request", "missing client_id parameter")
    if not client_secret:
        return _oauth_error(401, "invalid_client", "missing client_secret parameter")
    if not tokens.credentials_ok(client_id, client_secret):
        return _oauth_error(401, "invalid_client", "invalid client_id or client_secret")
    token = tokens.issue(client_id)
    body_out = {"access_token": token, "token_type": "bearer", "expires_in": tokens.ttl}
    return JSONResponse(body_out, headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    """The IMS routes."""
    return [Route("/ims/token/v3", issue_token, methods=["POST"])]

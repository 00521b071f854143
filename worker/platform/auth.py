"""IMS OAuth server-to-server: one token per client, fetched single-flight, renewed in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from worker.errors import AuthenticationError, RetryableError
from worker.platform.http import Transport, error_for_response
from worker.platform.reply import response_body

TOKEN_PATH = "/ims/token/v3"  # noqa: S105 (a URL path, not a password)
# Renew this long before IMS says the token expires (a tenth of its life for short tokens).
RENEW_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class Credentials:
    """What IMS needs to issue a token; the secret never leaves this object except to IMS."""

    client_id: str
    client_secret: str
    scopes: str
    org_id: str

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id!r}, org_id={self.org_id!r})"


def renew_at(issued_at: float, expires_in: float) -> float:
    """When a token issued at ``issued_at`` and valid ``expires_in`` seconds should be renewed."""
    margin = min(RENEW_MARGIN_SECONDS, expires_in / 10)
    return issued_at + expires_in - margin


class ImsAuth:
    """Hands out the process's access token, asking IMS only when it is missing or stale."""

    def __init__(
        self,
        transport: Transport,
        ims_url: str,
        credentials: Credentials,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._url = ims_url.rstrip("/") + TOKEN_PATH
        self._credentials = credentials
        self._clock = clock
        self._lock = asyncio.Lock()  # bound to the loop that first waits on it
        self._token: str | None = None
        self._renew_at = 0.0

    async def token(self) -> str:
        """A valid token; every caller waiting at the same moment shares one IMS request."""
        token = self._token
        if token is not None and self._clock() < self._renew_at:
            return token  # the common case takes no lock
        async with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def renew(self, rejected: str) -> str:
        """A fresh token after the Platform refused ``rejected`` (renewed once, not per caller)."""
        async with self._lock:
            if self._token is None or self._token == rejected:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        """Ask IMS for a token (the caller holds the lock)."""
        self._token = None
        issued_at = self._clock()
        form = {
            "grant_type": "client_credentials",
            "client_id": self._credentials.client_id,
            "client_secret": self._credentials.client_secret,
            "scope": self._credentials.scopes,
        }
        response = await self._transport.send(
            "ims", "POST", self._url, TOKEN_PATH, form=form, idempotent=True, gated=False
        )
        if response.status_code != 200:
            error = error_for_response("ims", "POST", TOKEN_PATH, response, idempotent=True)
            if not error.retryable:
                message = f"IMS refused the credentials: {error.status} {error.code or ''}".rstrip()
                if error.detail:
                    message += f": {error.detail}"
                raise AuthenticationError(
                    message,
                    status=error.status,
                    code=error.code,
                    title=error.title,
                    detail=error.detail,
                    api="ims",
                )
            raise error
        body = response_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise RetryableError("IMS answered 200 without an access token", api="ims", status=200)
        expires_in = float(body.get("expires_in", 0) or 0)
        self._token = body["access_token"]
        self._renew_at = renew_at(issued_at, expires_in)

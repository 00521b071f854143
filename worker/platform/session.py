"""Authenticated Platform requests: the common headers, the path template, one renewal on 401."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from worker.errors import AuthenticationError
from worker.platform.auth import ImsAuth
from worker.platform.http import Transport, error_for_response
from worker.platform.reply import response_body

FOUNDATION = "/data/foundation"


def fill_template(template: str, path: Mapping[str, str] | None = None) -> str:
    """The path with every ``{name}`` replaced by its value, percent-encoded as one segment."""
    if not path:
        return template
    return template.format(**{key: quote(value, safe="") for key, value in path.items()})


class PlatformSession:
    """Sends Platform requests with the headers every call needs, as one identity."""

    def __init__(
        self,
        transport: Transport,
        auth: ImsAuth,
        *,
        platform_url: str,
        client_id: str,
        org_id: str,
        default_sandbox: str,
    ) -> None:
        self._transport = transport
        self._auth = auth
        self._base = platform_url.rstrip("/") + FOUNDATION
        self._client_id = client_id
        self._org_id = org_id
        self.default_sandbox = default_sandbox

    def headers(self, token: str, sandbox: str | None, accept: str | None) -> dict[str, str]:
        """The headers of one call: credentials, organisation, sandbox and content types."""
        return {
            "Authorization": f"Bearer {token}",
            "x-api-key": self._client_id,
            "x-gw-ims-org-id": self._org_id,
            "x-sandbox-name": sandbox or self.default_sandbox,
            "Accept": accept or "application/json",
        }

    async def request(
        self,
        api: str,
        method: str,
        template: str,
        *,
        sandbox: str | None,
        path: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        accept: str | None = None,
        if_match: str | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one call and return its JSON body (None when empty); raise `PlatformError`.

        A 401 renews the token once and sends the call again. ``if_match`` is sent as the
        ``If-Match`` header; ``idempotent`` overrides the method's default (a POST that may be
        repeated safely, such as a flow action).
        """
        url = self._base + fill_template(template, path)
        token = await self._auth.token()
        for attempt in (1, 2):
            headers = self.headers(token, sandbox, accept)
            if if_match is not None:
                headers["If-Match"] = if_match
            response = await self._transport.send(
                api,
                method,
                url,
                template,
                headers=headers,
                params=params,
                json_body=json_body,
                idempotent=idempotent,
            )
            if response.status_code != 401 or attempt == 2:
                break
            # A 401 means the gateway refused the token before applying anything, so sending
            # again (even a POST) cannot duplicate a resource.
            token = await self._auth.renew(token)
        if not response.is_success:
            error = error_for_response(api, method, template, response, idempotent=idempotent)
            if isinstance(error, AuthenticationError):
                error.message = f"{error.message} with a fresh token"
                error.args = (error.message,)
            raise error
        if not response.content:
            return None
        return response_body(response)

"""A Platform answer as the client reads it: status, headers and body, and the body as JSON.

Our transport hands back a `Reply` (built cheaply from the raw status, headers and body); a
test's httpx transport hands back an ``httpx.Response``. Both read the same way here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer as the client reads it: what it uses of ``httpx.Response``, built cheaply."""

    status_code: int
    headers: Mapping[str, str]  # names in lower case
    content: bytes

    @classmethod
    def of(cls, status: int, raw_headers: Iterable[tuple[bytes, bytes]], body: bytes) -> Reply:
        """The reply of a status, raw header pairs and a body."""
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw_headers
        }
        return cls(status, headers, body)

    @property
    def is_success(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError when it is not)."""
        return json.loads(self.content)


def response_body(response: Reply | httpx.Response) -> Any:
    """The JSON body of a response, or its text when it is not JSON (never raises)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return response.text[:500]

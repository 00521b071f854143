"""Flow Service list paging: continuation tokens that carry the whole query. Pure.

Adobe documents the next page as ``_links.next.href`` = ``/<kind>?continuationToken=<token>``:
the token alone, nothing else in the query. So the token has to carry everything the first
request asked for (the ``property`` filters, ``orderby``, ``limit``) and where the next page
starts. It is URL-safe base64 of a small JSON document, without padding, so a client may cut it
out of the link after the ``=`` or parse the link's query: both give the same token.

A request that carries a token is answered from the token's query; parameters sent beside it
(clients resend their first request's parameters) are ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from emulator.filters import Condition, QueryError, parse_limit, parse_property

TOKEN_PARAM = "continuationToken"  # noqa: S105 -- a parameter name, not a secret


@dataclass(frozen=True)
class ListQuery:
    """One list request: its filters (as sent), order, page size and where the page starts."""

    properties: tuple[str, ...] = ()
    orderby: str | None = None
    limit: int | None = None
    offset: int = 0
    count: bool = False

    def conditions(self) -> list[Condition]:
        """The parsed ``property=`` filters (all must hold)."""
        return [parse_property(p) for p in self.properties]


def parse_query(params: Mapping[str, Sequence[str]]) -> ListQuery:
    """The query of a list request (each name maps to all its values); QueryError when invalid."""
    tokens = params.get(TOKEN_PARAM) or ()
    if tokens and tokens[0]:
        return decode_token(tokens[0])
    limit = parse_limit(_first(params, "limit"))
    count = (_first(params, "count") or "false").lower() == "true"
    if count and limit is not None:
        raise QueryError(1401, "The limit and count parameters cannot be used together.")
    query = ListQuery(tuple(params.get("property", ())), _first(params, "orderby"), limit, 0, count)
    query.conditions()  # refuse a bad filter before anything is looked up
    return query


def _first(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def encode_token(query: ListQuery) -> str:
    """The opaque token of a page: the query and the page's first position."""
    document = {
        "p": list(query.properties),
        "o": query.orderby,
        "l": query.limit,
        "s": query.offset,
    }
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> ListQuery:
    """The query a token stands for; QueryError 1400 for anything this service did not issue."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw)
        query = ListQuery(
            properties=tuple(str(p) for p in document["p"]),
            orderby=_optional_text(document["o"]),
            limit=_positive(document["l"]),
            offset=max(0, int(document["s"])),
        )
        query.conditions()
    except (ValueError, TypeError, KeyError, binascii.Error, QueryError):
        raise QueryError(1400, f"Invalid continuationToken: {token}") from None
    return query


def _optional_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(value)


def _positive(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(value)
    return value


def paginate(
    items: list[dict[str, Any]], query: ListQuery
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of (already filtered and ordered) items and the next page's token, or None."""
    if query.limit is None:
        return items[query.offset :], None
    end = query.offset + query.limit
    page = items[query.offset : end]
    return page, (encode_token(replace(query, offset=end)) if end < len(items) else None)


def next_href(kind: str, token: str) -> str:
    """The documented link to the next page: relative to the service, the token alone."""
    return f"/{kind}?{TOKEN_PARAM}={token}"

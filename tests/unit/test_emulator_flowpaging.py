"""Flow Service paging: tokens that carry the whole query, in the documented link form."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from emulator.filters import QueryError
from emulator.flowpaging import (
    ListQuery,
    decode_token,
    encode_token,
    next_href,
    paginate,
    parse_query,
)

ITEMS = [{"id": str(n), "name": f"n{n}"} for n in range(7)]


def _token_after_the_equals_sign(href: str) -> str:
    """How an independent client reads the token: whatever follows the link's ``=``."""
    return href.split("=")[1]


def test_pages_are_walked_with_the_token_alone() -> None:
    query = parse_query({"property": ["name!=n3"], "limit": ["2"]})
    chosen = [item for item in ITEMS if item["name"] != "n3"]
    seen, token = paginate(chosen, query)
    while token is not None:
        query = parse_query({"continuationToken": [token]})
        page, token = paginate(chosen, query)
        seen += page
    assert seen == chosen


def test_the_token_carries_filters_order_and_page_size() -> None:
    query = ListQuery(('name=="a,b"', "state==enabled"), "-createdAt", 5, 10)
    assert decode_token(encode_token(query)) == query


def test_the_documented_link_holds_the_token_alone_and_its_text_after_the_equals_sign() -> None:
    query = ListQuery(('name=="a b",c',), "name", 2, 0)
    _, token = paginate([{"name": "x"}] * 5, query)
    assert token is not None
    href = next_href("flows", token)
    assert href == f"/flows?continuationToken={token}"
    assert _token_after_the_equals_sign(href) == token
    assert not set(token) & set("=&+/?#%")


def test_parameters_sent_beside_a_token_are_ignored() -> None:
    token = encode_token(ListQuery(("name==a",), None, 3, 3))
    query = parse_query({"continuationToken": [token], "limit": ["50"], "property": ["id==x"]})
    assert query == ListQuery(("name==a",), None, 3, 3)


def test_the_last_page_has_no_token() -> None:
    page, token = paginate(ITEMS, ListQuery(limit=4, offset=4))
    assert (page, token) == (ITEMS[4:], None)


def test_without_a_limit_there_is_one_page() -> None:
    assert paginate(ITEMS, ListQuery()) == (ITEMS, None)


def _b64(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "!!garbage!!",
        "o:2",
        _b64(["not", "an", "object"]),
        _b64({"p": [], "o": None, "l": 2}),
        _b64({"p": [], "o": None, "l": 0, "s": 0}),
        _b64({"p": [], "o": 3, "l": 2, "s": 0}),
        _b64({"p": ["name~x"], "o": None, "l": 2, "s": 0}),
    ],
)
def test_a_token_this_service_did_not_issue_is_refused(token: str) -> None:
    with pytest.raises(QueryError, match="Invalid continuationToken") as refused:
        parse_query({"continuationToken": [token]})
    assert refused.value.code == 1400


def test_count_and_limit_together_are_refused_and_count_alone_is_read() -> None:
    with pytest.raises(QueryError) as refused:
        parse_query({"count": ["true"], "limit": ["2"]})
    assert refused.value.code == 1401
    assert parse_query({"count": ["True"]}).count
    assert not parse_query({"count": ["False"]}).count


def test_a_bad_filter_is_refused_when_the_query_is_read() -> None:
    with pytest.raises(QueryError) as refused:
        parse_query({"property": ["name~x"]})
    assert refused.value.code == 1440

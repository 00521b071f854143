"""Recognising a request's mapping set among the listed ones, and listing the recent ones."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.unit.platform_fakes import mock_client
from worker.errors import RetryableError
from worker.platform.client import CLOCK_SKEW_SECONDS
from worker.platform.dataprep import PAGE_ATTEMPTS, PAGE_SIZE, page_pause
from worker.platform.mappingsets import (
    created_ms,
    is_requested_set,
    mapping_pairs_of,
    oldest_requested_set,
    output_schema_id,
)

SCHEMA = "https://ns.adobe.com/tenant/schemas/abc"
OTHER = "https://ns.adobe.com/tenant/schemas/def"
PAIRS = [("id", "_id"), ("email", "personalEmail.address")]


def listed(
    set_id: str = "m1",
    schema_id: str = SCHEMA,
    pairs: list[tuple[str, str]] = PAIRS,
    created: Any = 1_000,
) -> dict[str, Any]:
    """A mapping set as the list endpoint shows it (both field forms on each mapping)."""
    return {
        "id": set_id,
        "version": 0,
        "createdDate": created,
        "outputSchema": {"id": "o1", "schemaRef": {"id": schema_id, "contentType": "x"}},
        "mappings": [
            {
                "sourceType": "text/x.schema-path",
                "source": source,
                "destination": destination,
                "sourceAttribute": source,
                "destinationXdmPath": destination,
            }
            for source, destination in pairs
        ],
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_614_901_254_724, 1_614_901_254_724),
        (1.5e12, 1_500_000_000_000),
        ("1614901254724", 1_614_901_254_724),
        ("2021-03-04T23:40:54.724Z", 1_614_901_254_724),
        ("2021-03-04T23:40:54.724+00:00", 1_614_901_254_724),
        ("2021-03-04T23:40:54", None),  # no zone: not comparable
        ("yesterday", None),
        (True, None),
        (None, None),
    ],
)
def test_the_creation_time_is_read_from_numbers_and_date_times(value: Any, expected: Any) -> None:
    assert created_ms({"createdDate": value}) == expected


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"outputSchema": {"schemaRef": {"id": SCHEMA}}}, SCHEMA),
        ({"schemaRef": {"id": SCHEMA}}, SCHEMA),
        ({"xdmSchema": SCHEMA}, SCHEMA),
        ({"outputSchema": {"id": "o1"}, "xdmSchema": SCHEMA}, SCHEMA),
        ({"outputSchema": "broken"}, None),
        ({}, None),
    ],
)
def test_the_output_schema_is_read_from_whichever_field_carries_it(
    item: dict[str, Any], expected: str | None
) -> None:
    assert output_schema_id(item) == expected


@pytest.mark.parametrize(
    ("mappings", "expected"),
    [
        ([{"source": "a", "destination": "b"}], [("a", "b")]),
        ([{"sourceAttribute": "a", "destinationXdmPath": "b"}], [("a", "b")]),
        ([{"source": " a ", "destination": "b"}], [("a", "b")]),
        ([{"source": "a"}], None),
        (["a"], None),
        ("a", None),
    ],
)
def test_the_mapping_pairs_are_read_in_both_field_forms(mappings: Any, expected: Any) -> None:
    assert mapping_pairs_of({"mappings": mappings}) == expected


@pytest.mark.parametrize(
    ("item", "pairs", "expected"),
    [
        (listed(), None, True),
        (listed(schema_id=OTHER), None, False),
        (listed(pairs=[("x", "y")]), None, True),  # own schema: the schema alone identifies
        (listed(), PAIRS, True),
        (listed(), list(reversed(PAIRS)), True),  # order does not matter
        (listed(pairs=[("id", "_id")]), PAIRS, False),
        (listed(pairs=[*PAIRS, ("x", "y")]), PAIRS, False),
        (listed(pairs=[("id", "_id"), ("mail", "personalEmail.address")]), PAIRS, False),
        (listed(schema_id=OTHER), PAIRS, False),
        ({**listed(), "mappings": None}, PAIRS, False),
    ],
)
def test_a_set_is_the_requested_one_by_schema_and_for_a_shared_schema_by_pairs(
    item: dict[str, Any], pairs: list[tuple[str, str]] | None, expected: bool
) -> None:
    assert is_requested_set(item, SCHEMA, pairs) is expected


def test_the_oldest_matching_set_with_an_id_is_chosen() -> None:
    items = [
        listed("new", created=3_000),
        listed("other", schema_id=OTHER, created=1_000),
        {**listed(created=500), "id": None},
        listed("old", created=2_000),
    ]
    assert oldest_requested_set(items, SCHEMA) == listed("old", created=2_000)
    assert oldest_requested_set(items, OTHER, [("x", "y")]) is None
    assert oldest_requested_set([], SCHEMA) is None


class ListingPlatform:
    """A fake Data Prep list endpoint over ``sets`` (newest first); records each query."""

    def __init__(self, sets: list[dict[str, Any]]) -> None:
        self.sets = sets
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer a token request or one page of the listing."""
        if request.url.path == "/ims/token/v3":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        assert (request.method, request.url.path) == (
            "GET",
            "/data/foundation/conversion/mappingSets",
        )
        query = dict(request.url.params)
        self.queries.append(query)
        start, limit = int(query["start"]), int(query["limit"])
        return httpx.Response(200, json={"data": self.sets[start : start + limit], "_page": {}})


@pytest.mark.anyio
async def test_recent_sets_are_listed_newest_first_until_one_is_older_than_the_bound() -> None:
    since = 1_700_000_000.0
    bound_ms = int((since - CLOCK_SKEW_SECONDS) * 1000)
    recent = [listed(f"r{n}", created=bound_ms + 10_000 - n) for n in range(PAGE_SIZE + 5)]
    older = [listed(f"o{n}", created=bound_ms - 1 - n) for n in range(PAGE_SIZE * 2)]
    platform = ListingPlatform(recent + older)
    async with mock_client(platform) as client:
        found = await client.recent_mapping_sets("dev", since)
    assert [item["id"] for item in found] == [item["id"] for item in recent]
    assert [q["start"] for q in platform.queries] == ["0", str(PAGE_SIZE)]
    assert {q["orderBy"] for q in platform.queries} == {"-createdDate"}
    assert {q["limit"] for q in platform.queries} == {str(PAGE_SIZE)}


@pytest.mark.anyio
async def test_the_listing_stops_at_a_short_page() -> None:
    platform = ListingPlatform([listed("only", created=2**62)])
    async with mock_client(platform) as client:
        found = await client.find_mapping_set(None, SCHEMA, PAIRS, since=0.0)
    assert found == listed("only", created=2**62)
    assert len(platform.queries) == 1


class FlakyListingPlatform(ListingPlatform):
    """The listing, answering 503 to the first ``failures`` reads of each page past the first."""

    def __init__(self, sets: list[dict[str, Any]], failures: int) -> None:
        super().__init__(sets)
        self.failures = failures

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Fail a later page's first reads, then answer it."""
        start = request.url.params.get("start")
        reads = sum(q["start"] == start for q in self.queries)
        if start not in (None, "0") and reads < self.failures:
            self.queries.append(dict(request.url.params))
            return httpx.Response(503, json={"title": "Service Unavailable"})
        return super().__call__(request)


@pytest.mark.anyio
async def test_a_page_answered_503_is_read_again_without_restarting_the_scan() -> None:
    sets = [listed(f"r{n}", created=2**62 - n) for n in range(PAGE_SIZE + 5)]
    platform = FlakyListingPlatform(sets, failures=2)
    async with mock_client(platform) as client:
        found = await client.recent_mapping_sets(None, 0.0)
    assert len(found) == PAGE_SIZE + 5
    assert [q["start"] for q in platform.queries] == ["0"] + [str(PAGE_SIZE)] * 3


@pytest.mark.anyio
async def test_a_page_that_keeps_failing_fails_the_scan_as_retryable() -> None:
    sets = [listed(f"r{n}", created=2**62 - n) for n in range(PAGE_SIZE + 5)]
    platform = FlakyListingPlatform(sets, failures=PAGE_ATTEMPTS)
    async with mock_client(platform) as client:
        with pytest.raises(RetryableError):
            await client.recent_mapping_sets(None, 0.0)
    assert [q["start"] for q in platform.queries] == ["0"] + [str(PAGE_SIZE)] * PAGE_ATTEMPTS


@pytest.mark.parametrize(
    ("attempt", "retry_after", "seconds"),
    [(1, None, 0.1), (2, None, 0.2), (1, 2.0, 2.0), (1, 60.0, 5.0)],
)
def test_a_page_is_read_again_after_a_short_pause_or_the_retry_after_up_to_a_cap(
    attempt: int, retry_after: float | None, seconds: float
) -> None:
    assert page_pause(attempt, retry_after) == seconds


@pytest.mark.anyio
async def test_a_page_without_data_is_a_retryable_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/ims/token/v3":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(200, json={"items": []})

    async with mock_client(handler) as client:
        with pytest.raises(RetryableError):
            await client.recent_mapping_sets(None, 0.0)

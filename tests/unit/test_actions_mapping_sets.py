"""The mapping-set step's look-up: by output schema, and by pairs when the schema is supplied."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.unit.engine.fakes import request
from tests.unit.platform_fakes import mock_client
from worker.core.steps import Step
from worker.engine.actions import PlatformActions, RequestContext

SCHEMA = "https://ns.adobe.com/tenant/schemas/abc"
NOW_MS = 1_700_000_000_000
SAMPLE_PAIRS = [
    ("id", "_id"),
    ("email", "personalEmail.address"),
    ("first_name", "person.name.firstName"),
]


def mapping_set(set_id: str, pairs: list[tuple[str, str]], version: int = 0) -> dict[str, Any]:
    """A listed mapping set into SCHEMA, created just now."""
    return {
        "id": set_id,
        "version": version,
        "createdDate": NOW_MS,
        "outputSchema": {"schemaRef": {"id": SCHEMA}},
        "mappings": [{"source": s, "destination": d} for s, d in pairs],
    }


class DataPrepList:
    """A fake list endpoint answering ``sets`` on one page; counts the calls."""

    def __init__(self, sets: list[dict[str, Any]]) -> None:
        self.sets = sets
        self.calls = 0

    def __call__(self, http_request: httpx.Request) -> httpx.Response:
        """Answer a token request or the listing."""
        if http_request.url.path == "/ims/token/v3":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        self.calls += 1
        return httpx.Response(200, json={"data": self.sets, "_page": {"count": len(self.sets)}})


def find(platform: DataPrepList, context: RequestContext) -> str | None:
    """Run the mapping-set step's look-up against ``platform``."""

    async def look() -> str | None:
        async with mock_client(platform) as client:
            return await PlatformActions(client).find(Step.MAPPING_SET, context, None)

    return asyncio.run(look())


def context(*, supplied: bool = False, since: float | None = NOW_MS / 1000) -> RequestContext:
    """A request whose target schema step is done (supplied or created)."""
    changes: dict[str, Any] = {"target": {"schema_id": SCHEMA}} if supplied else {}
    return RequestContext(
        request("crm-ms", **changes),
        "prod",
        created_at=since or 0.0,
        resources={Step.TARGET_SCHEMA.value: SCHEMA},
    )


def test_a_created_schema_identifies_the_set_and_its_version_is_kept_for_the_flow() -> None:
    platform = DataPrepList([mapping_set("m2", [("x", "y")], version=3)])
    found_in = context()
    assert find(platform, found_in) == "m2"
    assert found_in.extras["mapping_version"] == 3


def test_a_supplied_schema_adopts_only_the_set_with_the_requests_own_pairs() -> None:
    other = mapping_set("other", [("id", "_id")])
    own = mapping_set("own", list(reversed(SAMPLE_PAIRS)))
    assert find(DataPrepList([other, own]), context(supplied=True)) == "own"
    assert find(DataPrepList([other]), context(supplied=True)) is None


def test_without_the_time_the_request_was_first_seen_nothing_is_listed() -> None:
    platform = DataPrepList([mapping_set("m1", SAMPLE_PAIRS)])
    assert find(platform, context(since=None)) is None
    assert platform.calls == 0

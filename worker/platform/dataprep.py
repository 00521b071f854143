"""Data Prep: mapping sets (`/data/foundation/conversion`); the API cannot delete them."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from worker.errors import RetryableError
from worker.platform.mappingsets import created_ms
from worker.platform.session import PlatformSession

API = "dataprep"
Json = dict[str, Any]
PAGE_SIZE = 100
MAX_PAGES = 50  # 5,000 sets: past that, a lost answer leaves an orphan rather than a long scan
# A page that fails transiently is read again at once rather than failing the whole scan: a scan
# of several pages through a Platform answering some calls 503 or 429 would otherwise fail far
# more often than one call, and use up the step's attempts (found by the chaos run).
PAGE_ATTEMPTS = 3
PAGE_PAUSE_SECONDS = 0.1
MAX_PAGE_PAUSE_SECONDS = 5.0


def page_pause(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before reading a page again after ``attempt`` failed reads."""
    if retry_after is not None:
        return min(retry_after, MAX_PAGE_PAUSE_SECONDS)
    return min(PAGE_PAUSE_SECONDS * 2.0 ** (attempt - 1), MAX_PAGE_PAUSE_SECONDS)


@dataclass(frozen=True)
class MappingSetRef:
    """What a flow needs to point at a mapping set."""

    id: str
    version: int


class DataPrep:
    """Typed calls to Data Prep over a shared session."""

    def __init__(self, session: PlatformSession) -> None:
        self._session = session

    async def create_mapping_set(self, sandbox: str | None, body: Json) -> MappingSetRef:
        """Create a mapping set; return its id and version."""
        answer = await self._session.request(
            API, "POST", "/conversion/mappingSets", sandbox=sandbox, json_body=body
        )
        return mapping_set_ref(answer)

    async def get_mapping_set(self, sandbox: str | None, mapping_set_id: str) -> Json:
        """One mapping set by id."""
        answer = await self._session.request(
            API,
            "GET",
            "/conversion/mappingSets/{id}",
            sandbox=sandbox,
            path={"id": mapping_set_id},
        )
        if not isinstance(answer, dict):
            raise RetryableError(f"{API}: unreadable mapping set {mapping_set_id}", api=API)
        return answer

    async def recent_mapping_sets(self, sandbox: str | None, since_ms: int) -> AsyncIterator[Json]:
        """Mapping sets created at or after ``since_ms`` (epoch ms), newest first, page by page.

        Newest first, a set created while paging only shifts older ones to a later page (seen
        twice, never missed). Stops at the first older set, a short page or ``MAX_PAGES``.
        """
        for page_number in range(MAX_PAGES):
            params: dict[str, str | int] = {
                "start": page_number * PAGE_SIZE,
                "limit": PAGE_SIZE,
                "orderBy": "-createdDate",
            }
            answer = await self._page(sandbox, params)
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise RetryableError(f"{API}: unreadable page of mapping sets", api=API)
            for item in data:
                if not isinstance(item, dict):
                    continue
                created = created_ms(item)
                if created is not None and created < since_ms:
                    return
                yield item
            if len(data) < PAGE_SIZE:
                return

    async def _page(self, sandbox: str | None, params: dict[str, str | int]) -> Any:
        """One page of the listing, read up to ``PAGE_ATTEMPTS`` times (a GET is safe again)."""
        for attempt in itertools.count(1):
            try:
                return await self._session.request(
                    API, "GET", "/conversion/mappingSets", sandbox=sandbox, params=params
                )
            except RetryableError as error:
                if attempt == PAGE_ATTEMPTS:
                    raise
                await asyncio.sleep(page_pause(attempt, error.retry_after_seconds))


def mapping_set_ref(answer: Any) -> MappingSetRef:
    """The id and version of a mapping set answer."""
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
        raise RetryableError(f"{API}: mapping set answer without an id", api=API)
    return MappingSetRef(id=answer["id"], version=int(answer.get("version") or 0))

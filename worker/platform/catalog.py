"""Catalog: datasets (`/data/foundation/catalog`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from worker.errors import NotFoundError, RetryableError
from worker.platform.filters import catalog_name_filter
from worker.platform.session import PlatformSession

API = "catalog"
PAGE_SIZE = 100  # Catalog's maximum `limit`
Json = dict[str, Any]


def created_id(answer: Any) -> str:
    """The id from a create answer, ``["@/dataSets/<id>"]``."""
    if isinstance(answer, list) and answer and isinstance(answer[0], str):
        return answer[0].rstrip("/").rsplit("/", 1)[-1]
    raise RetryableError(f"{API}: POST /dataSets answered without an id", api=API)


def keyed_items(answer: Any) -> list[Json]:
    """The datasets of an answer keyed by id, each with its ``id`` set."""
    if not isinstance(answer, dict):
        raise RetryableError(f"{API}: unreadable dataset answer", api=API)
    return [{**value, "id": key} for key, value in answer.items() if isinstance(value, dict)]


class Catalog:
    """Typed calls to Catalog over a shared session."""

    def __init__(self, session: PlatformSession) -> None:
        self._session = session

    async def create_dataset(self, sandbox: str | None, body: Json) -> str:
        """Create a dataset; return its id."""
        answer = await self._session.request(
            API, "POST", "/catalog/dataSets", sandbox=sandbox, json_body=body
        )
        return created_id(answer)

    async def get_dataset(self, sandbox: str | None, dataset_id: str) -> Json:
        """One dataset by id."""
        answer = await self._session.request(
            API, "GET", "/catalog/dataSets/{id}", sandbox=sandbox, path={"id": dataset_id}
        )
        items = keyed_items(answer)
        if not items:
            raise NotFoundError(f"{API}: dataset {dataset_id} not found", status=404, api=API)
        return items[0]

    async def delete_dataset(self, sandbox: str | None, dataset_id: str) -> None:
        """Delete one dataset by id."""
        await self._session.request(
            API, "DELETE", "/catalog/dataSets/{id}", sandbox=sandbox, path={"id": dataset_id}
        )

    async def find_datasets(self, sandbox: str | None, name: str) -> list[Json]:
        """Every dataset whose name is exactly ``name``, oldest first."""
        listed = self.list_datasets(sandbox, name)
        found = [item async for item in listed if item.get("name") == name]
        return sorted(found, key=lambda item: (item.get("created") or 0, str(item["id"])))

    async def list_datasets(
        self, sandbox: str | None, name: str | None = None
    ) -> AsyncIterator[Json]:
        """Datasets, filtered by a (possibly widened) name, page after page."""
        name_filter = catalog_name_filter(name) if name is not None else None
        start = 0
        while True:
            params: dict[str, str | int] = {"limit": PAGE_SIZE, "start": start}
            if name_filter is not None:
                params["name"] = name_filter
            answer = await self._session.request(
                API, "GET", "/catalog/dataSets", sandbox=sandbox, params=params
            )
            items = keyed_items(answer)
            for item in items:
                yield item
            if len(items) < PAGE_SIZE:
                return
            start += len(items)

"""Schema Registry: tenant schemas and field groups, and the tenant id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from worker.errors import RetryableError
from worker.platform.cache import LookupCache
from worker.platform.filters import schema_registry_title_filter
from worker.platform.session import PlatformSession

API = "schemaregistry"
# Lookups need a versioned Accept; lists refuse one.
ACCEPT_LOOKUP = "application/vnd.adobe.xed+json; version=1"
ACCEPT_LIST = "application/vnd.adobe.xed-id+json"
KINDS = ("schemas", "fieldgroups")
Json = dict[str, Any]


def next_start(page: Json) -> str | None:
    """The ``start`` of the next page (``_page.next``); None on the last page."""
    paging = page.get("_page")
    if isinstance(paging, dict) and paging.get("next") not in (None, ""):
        return str(paging["next"])
    return None


class SchemaRegistry:
    """Typed calls to the Schema Registry over a shared session."""

    def __init__(self, session: PlatformSession) -> None:
        self._session = session
        self._tenants: LookupCache[str, str] = LookupCache()

    async def tenant_id(self, sandbox: str | None) -> str:
        """The organisation's tenant id (`GET /stats`), looked up once per sandbox."""
        key = sandbox or self._session.default_sandbox
        return await self._tenants.get(key, lambda: self._look_up_tenant_id(sandbox))

    async def _look_up_tenant_id(self, sandbox: str | None) -> str:
        stats = await self._session.request(API, "GET", "/schemaregistry/stats", sandbox=sandbox)
        tenant = stats.get("tenantId") if isinstance(stats, dict) else None
        if not isinstance(tenant, str) or not tenant:
            raise RetryableError(f"{API}: /stats answered without a tenantId", api=API)
        return tenant

    async def create(self, sandbox: str | None, kind: str, body: Json) -> str:
        """Create a tenant schema or field group; return its ``$id``."""
        answer = await self._session.request(
            API, "POST", f"/schemaregistry/tenant/{kind}", sandbox=sandbox, json_body=body
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("$id"), str):
            raise RetryableError(f"{API}: POST /tenant/{kind} answered without an $id", api=API)
        return str(answer["$id"])

    async def get(self, sandbox: str | None, kind: str, resource_id: str) -> Json:
        """One tenant resource by ``$id`` or ``meta:altId``."""
        answer = await self._session.request(
            API,
            "GET",
            f"/schemaregistry/tenant/{kind}/{{id}}",
            sandbox=sandbox,
            path={"id": resource_id},
            accept=ACCEPT_LOOKUP,
        )
        if not isinstance(answer, dict):
            raise RetryableError(f"{API}: unreadable {kind} {resource_id}", api=API)
        return with_id(answer)

    async def delete(self, sandbox: str | None, kind: str, resource_id: str) -> None:
        """Delete one tenant resource by ``$id``."""
        await self._session.request(
            API,
            "DELETE",
            f"/schemaregistry/tenant/{kind}/{{id}}",
            sandbox=sandbox,
            path={"id": resource_id},
        )

    async def find_by_title(self, sandbox: str | None, kind: str, title: str) -> list[Json]:
        """Every tenant resource whose title is exactly ``title``."""
        prop = schema_registry_title_filter(title)
        return [
            with_id(item)
            async for item in self.summaries(sandbox, kind, prop)
            if isinstance(item, dict) and item.get("title") == title
        ]

    async def summaries(
        self, sandbox: str | None, kind: str, prop: str | None = None
    ) -> AsyncIterator[Json]:
        """Every tenant resource of ``kind`` (summaries), page after page."""
        start: str | None = None
        while True:
            params: dict[str, str | int] = {"orderby": "title"}
            if prop is not None:
                params["property"] = prop
            if start is not None:
                params["start"] = start
            page = await self._session.request(
                API,
                "GET",
                f"/schemaregistry/tenant/{kind}",
                sandbox=sandbox,
                params=params,
                accept=ACCEPT_LIST,
            )
            if not isinstance(page, dict):
                raise RetryableError(f"{API}: unreadable page of {kind}", api=API)
            for item in page.get("results") or []:
                yield item
            start = next_start(page)
            if start is None:
                return


def with_id(resource: Json) -> Json:
    """The resource with ``id`` set to its ``$id``, like every other resource the client returns."""
    return {**resource, "id": resource.get("$id")}

"""Flow Service: connections, flows, flow specs and runs (`/data/foundation/flowservice`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from worker.errors import NotFoundError, RejectedError, RetryableError
from worker.platform.cache import LookupCache
from worker.platform.filters import flow_service_name_filter, quoted_filter
from worker.platform.session import PlatformSession

API = "flowservice"
# The collections this client creates, finds and deletes by name.
KINDS = ("sourceConnections", "targetConnections", "flows")
Json = dict[str, Any]
FlowOp = Literal["enable", "disable"]


def next_token(page: Json) -> str | None:
    """The continuation token of the next page, from ``_links.next.href``; None at the end."""
    links = page.get("_links") or {}
    href = (links.get("next") or {}).get("href") if isinstance(links, dict) else None
    if not href:
        return None
    tokens = parse_qs(urlsplit(href).query).get("continuationToken")
    return tokens[0] if tokens else None


def answered_etag(answer: Any, what: str) -> str:
    """The ``etag`` of an item or of a PATCH or action answer (quotes included, as sent back)."""
    etag = answer.get("etag") if isinstance(answer, dict) else None
    if not isinstance(etag, str) or not etag:
        raise RetryableError(f"{API}: {what} answered without an etag", api=API)
    return etag


def oldest_first(items: list[Json]) -> list[Json]:
    """Items in creation order (ties by id), as the finds answer them."""
    return sorted(items, key=lambda item: (item.get("createdAt") or 0, str(item.get("id"))))


def first_item(body: Any, what: str) -> Json:
    """The one object of a by-id answer, which Flow Service wraps as ``{"items": [obj]}``."""
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        if body["items"]:
            item: Json = body["items"][0]
            return item
        raise NotFoundError(f"{API}: {what} not found", status=404, api=API)
    if isinstance(body, dict):
        return body
    raise RetryableError(f"{API}: unreadable answer for {what}", api=API)


class FlowService:
    """Typed calls to Flow Service over a shared session."""

    def __init__(self, session: PlatformSession) -> None:
        self._session = session
        self._specs: LookupCache[tuple[str, str], Json] = LookupCache()

    async def create(self, sandbox: str | None, kind: str, body: Json) -> str:
        """Create a source connection, target connection or flow; return its id."""
        answer = await self._session.request(
            API, "POST", f"/flowservice/{kind}", sandbox=sandbox, json_body=body
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise RetryableError(f"{API}: POST /{kind} answered without an id", api=API)
        return str(answer["id"])

    async def get(self, sandbox: str | None, kind: str, resource_id: str) -> Json:
        """One resource by id (unwrapped from ``items``); NotFoundError when absent."""
        answer = await self._session.request(
            API, "GET", f"/flowservice/{kind}/{{id}}", sandbox=sandbox, path={"id": resource_id}
        )
        return first_item(answer, f"{kind} {resource_id}")

    async def delete(self, sandbox: str | None, kind: str, resource_id: str) -> None:
        """Delete one resource by id (NotFoundError when already gone, InUseError when used)."""
        await self._session.request(
            API, "DELETE", f"/flowservice/{kind}/{{id}}", sandbox=sandbox, path={"id": resource_id}
        )

    async def patch(
        self, sandbox: str | None, kind: str, resource_id: str, operations: list[Json], etag: str
    ) -> str:
        """Apply a JSON Patch under ``If-Match: etag``; return the new etag (StaleEtagError)."""
        template, path = f"/flowservice/{kind}/{{id}}", {"id": resource_id}
        answer = await self._session.request(
            API, "PATCH", template, sandbox=sandbox, path=path, json_body=operations, if_match=etag
        )
        return answered_etag(answer, f"PATCH /{kind}/{{id}}")

    async def flow_action(self, sandbox: str | None, flow_id: str, op: FlowOp) -> str:
        """Enable or disable a flow (``POST /flows/{id}/action?op=``); return the new etag.

        Switching a flow to the state it is in changes nothing, so a lost answer is retried
        like a read (RetryableError), never left as an unknown outcome.
        """
        template, params = "/flowservice/flows/{id}/action", {"op": op.upper()}
        answer = await self._session.request(
            API,
            "POST",
            template,
            sandbox=sandbox,
            path={"id": flow_id},
            params=params,
            idempotent=True,
        )
        return answered_etag(answer, "POST /flows/{id}/action")

    async def find_by_name(self, sandbox: str | None, kind: str, name: str) -> list[Json]:
        """Every resource of ``kind`` whose name is exactly ``name``, oldest first."""
        prop = flow_service_name_filter(name)
        found = [
            item
            async for item in self.items(sandbox, kind, prop)
            if isinstance(item, dict) and item.get("name") == name
        ]
        return oldest_first(found)

    async def items(
        self, sandbox: str | None, kind: str, prop: str | None = None
    ) -> AsyncIterator[Json]:
        """Every item of a collection, following continuation tokens to the end."""
        token: str | None = None
        while True:
            page = await self.page(sandbox, kind, prop, token)
            for item in page.get("items") or []:
                yield item
            token = next_token(page)
            if token is None:
                return

    async def page(
        self, sandbox: str | None, kind: str, prop: str | None = None, token: str | None = None
    ) -> Json:
        """One page of a collection (the first, or the one ``token`` continues to)."""
        params: dict[str, str | int] = {}
        if prop is not None:
            params["property"] = prop
        if token is not None:
            params["continuationToken"] = token
        template = f"/flowservice/{kind}"
        page = await self._session.request(API, "GET", template, sandbox=sandbox, params=params)
        if not isinstance(page, dict):
            raise RetryableError(f"{API}: unreadable page of {kind}", api=API)
        return page

    async def get_base_connection(self, sandbox: str | None, connection_id: str) -> Json:
        """A base connection (`/connections/{id}`)."""
        return await self.get(sandbox, "connections", connection_id)

    async def target_connections_of_dataset(
        self, sandbox: str | None, dataset_id: str
    ) -> list[Json]:
        """Every target connection whose ``params.dataSetId`` is the dataset, oldest first."""
        prop = quoted_filter("params.dataSetId", dataset_id)
        found = [
            item
            async for item in self.items(sandbox, "targetConnections", prop)
            if isinstance(item, dict) and (item.get("params") or {}).get("dataSetId") == dataset_id
        ]
        return oldest_first(found)

    async def runs(self, sandbox: str | None, flow_id: str) -> list[Json]:
        """Every run of a flow (`/runs?property=flowId=="<id>"`)."""
        return [run async for run in self.items(sandbox, "runs", quoted_filter("flowId", flow_id))]

    async def flow_spec(self, sandbox: str | None, name: str) -> Json:
        """The flow spec called ``name``, looked up once per process and sandbox."""
        return await self._specs.get(
            self._spec_key(sandbox, name), lambda: self._look_up_flow_spec(sandbox, name)
        )

    def kept_flow_spec(self, sandbox: str | None, name: str) -> Json | None:
        """The flow spec called ``name`` if it was looked up already, without a call."""
        return self._specs.kept(self._spec_key(sandbox, name))

    def _spec_key(self, sandbox: str | None, name: str) -> tuple[str, str]:
        return (sandbox or self._session.default_sandbox, name)

    async def _look_up_flow_spec(self, sandbox: str | None, name: str) -> Json:
        prop = flow_service_name_filter(name)
        params = {"property": prop} if prop else {}
        page = await self._session.request(
            API, "GET", "/flowservice/flowSpecs", sandbox=sandbox, params=params
        )
        items = page.get("items") if isinstance(page, dict) else None
        matches = [item for item in items or [] if item.get("name") == name]
        if not matches:
            raise NotFoundError(f"{API}: no flow spec named {name!r}", status=404, api=API)
        spec: Json = matches[0]
        return spec


def accepts_connector(spec: Json, connection_spec_id: str) -> bool:
    """Whether the flow spec lists the connector among its source connection specs."""
    return connection_spec_id in (spec.get("sourceConnectionSpecIds") or [])


def check_connector(spec: Json, connection_spec_id: str) -> None:
    """Refuse a connector that the flow spec does not list among its source connection specs."""
    if not accepts_connector(spec, connection_spec_id):
        raise RejectedError(
            f"flow spec {spec.get('name')!r} does not accept connection spec {connection_spec_id}",
            code="connector_not_in_flow_spec",
            title="Connector not supported by the flow spec",
            api=API,
        )

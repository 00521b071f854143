"""The Platform client the worker uses: one object, one token, one connection pool per process.

Every operation is a coroutine of the event loop the client was opened in (use it from that loop
only). Every operation takes the sandbox first
(None: the configured default) and raises only
`worker.errors.PlatformError` subclasses. Nothing here re-sends a POST: after an
`OutcomeUnknownError` the caller decides whether to look up by name before creating again.
Find operations compare exact names client-side and return the oldest match, or None; mapping
sets, which have no name, are matched by output schema (and mappings) among the recent ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from worker.config import Settings
from worker.core.limiter import LimiterConfig
from worker.errors import ConfigurationError
from worker.platform.auth import Credentials, ImsAuth
from worker.platform.catalog import Catalog
from worker.platform.dataprep import DataPrep, MappingSetRef
from worker.platform.flowservice import (
    FlowOp,
    FlowService,
    accepts_connector,
    answered_etag,
    check_connector,
)
from worker.platform.gate import Gate, GateMetrics
from worker.platform.http import (
    PlatformMetrics,
    Transport,
    build_http_transport,
    http_timeout,
)
from worker.platform.mappingsets import Pair, oldest_requested_set
from worker.platform.schemaregistry import SchemaRegistry
from worker.platform.session import PlatformSession

Json = dict[str, Any]
# Requests in flight per dataflow in flight: the engine may run independent steps together.
IN_FLIGHT_PER_DATAFLOW = 2
# How far the Platform's clock may lag the worker's when listing mapping sets by creation time.
CLOCK_SKEW_SECONDS = 300.0


class ClientMetrics(PlatformMetrics, GateMetrics, Protocol):
    """What the client reports: every call, and the adaptive limit."""


def _first(found: list[Json]) -> Json | None:
    return found[0] if found else None


class PlatformClient:
    """Create, get, find by name and delete every resource a dataflow is made of; patch, enable
    and disable its flow.

    Every delete raises NotFoundError when the resource is already gone and InUseError when the
    Platform refuses because another resource still uses it.
    """

    def __init__(self, session: PlatformSession, transport: Transport, auth: ImsAuth) -> None:
        self._transport = transport
        self._auth = auth
        self.flows = FlowService(session)
        self.registry = SchemaRegistry(session)
        self.catalog = Catalog(session)
        self.dataprep = DataPrep(session)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._transport.aclose()

    async def __aenter__(self) -> PlatformClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def authenticate(self) -> None:
        """Prove that IMS accepts the credentials: a token (fetched now unless one is valid)."""
        await self._auth.token()

    async def probe(self, sandbox: str | None = None) -> None:
        """Prove that IMS and the Platform answer: a token and one cheap authenticated read."""
        await self.flows.page(sandbox, "flowSpecs")

    # Flow Service: source connections, target connections, flows.
    async def create_source_connection(self, sandbox: str | None, body: Json) -> str:
        """Create a source connection; return its id."""
        return await self.flows.create(sandbox, "sourceConnections", body)

    async def get_source_connection(self, sandbox: str | None, connection_id: str) -> Json:
        """A source connection by id."""
        return await self.flows.get(sandbox, "sourceConnections", connection_id)

    async def find_source_connection(self, sandbox: str | None, name: str) -> Json | None:
        """The source connection named exactly ``name``."""
        return _first(await self.flows.find_by_name(sandbox, "sourceConnections", name))

    async def delete_source_connection(self, sandbox: str | None, connection_id: str) -> None:
        """Delete a source connection."""
        await self.flows.delete(sandbox, "sourceConnections", connection_id)

    async def create_target_connection(self, sandbox: str | None, body: Json) -> str:
        """Create a target connection; return its id."""
        return await self.flows.create(sandbox, "targetConnections", body)

    async def get_target_connection(self, sandbox: str | None, connection_id: str) -> Json:
        """A target connection by id."""
        return await self.flows.get(sandbox, "targetConnections", connection_id)

    async def find_target_connection(self, sandbox: str | None, name: str) -> Json | None:
        """The target connection named exactly ``name``."""
        return _first(await self.flows.find_by_name(sandbox, "targetConnections", name))

    async def delete_target_connection(self, sandbox: str | None, connection_id: str) -> None:
        """Delete a target connection."""
        await self.flows.delete(sandbox, "targetConnections", connection_id)

    async def create_flow(self, sandbox: str | None, body: Json) -> str:
        """Create a flow; return its id."""
        return await self.flows.create(sandbox, "flows", body)

    async def get_flow(self, sandbox: str | None, flow_id: str) -> Json:
        """A flow by id."""
        return await self.flows.get(sandbox, "flows", flow_id)

    async def flow_with_etag(self, sandbox: str | None, flow_id: str) -> tuple[Json, str]:
        """A flow by id and its current etag (what `patch_flow` sends as ``If-Match``)."""
        flow = await self.flows.get(sandbox, "flows", flow_id)
        return flow, answered_etag(flow, f"GET /flows/{flow_id}")

    async def patch_flow(
        self, sandbox: str | None, flow_id: str, operations: list[Json], etag: str
    ) -> str:
        """Change a flow with JSON Patch ``operations`` if its etag is still ``etag``; return the
        new etag. StaleEtagError when the flow changed meanwhile: re-read it, re-apply."""
        return await self.flows.patch(sandbox, "flows", flow_id, operations, etag)

    async def flow_action(self, sandbox: str | None, flow_id: str, op: FlowOp) -> str:
        """Enable or disable a flow; return its new etag."""
        return await self.flows.flow_action(sandbox, flow_id, op)

    async def find_flow(self, sandbox: str | None, name: str) -> Json | None:
        """The flow named exactly ``name``."""
        return _first(await self.flows.find_by_name(sandbox, "flows", name))

    async def delete_flow(self, sandbox: str | None, flow_id: str) -> None:
        """Delete a flow."""
        await self.flows.delete(sandbox, "flows", flow_id)

    async def target_connections_using_dataset(
        self, sandbox: str | None, dataset_id: str
    ) -> list[Json]:
        """Every target connection that writes into a dataset, oldest first (Catalog deletes a
        dataset all the same: ask this before deleting one another dataflow may use)."""
        return await self.flows.target_connections_of_dataset(sandbox, dataset_id)

    async def get_base_connection(self, sandbox: str | None, connection_id: str) -> Json:
        """A base connection by id."""
        return await self.flows.get_base_connection(sandbox, connection_id)

    async def create_base_connection(self, sandbox: str | None, body: Json) -> str:
        """Create a base connection (a database's address and credentials); return its id."""
        return await self.flows.create(sandbox, "connections", body)

    async def base_connections(self, sandbox: str | None) -> list[Json]:
        """Every base connection of the sandbox, oldest first."""
        return [item async for item in self.flows.items(sandbox, "connections")]

    async def flow_spec(
        self, sandbox: str | None, name: str, connection_spec_id: str | None = None
    ) -> Json:
        """The flow spec called ``name`` (cached), checked to accept ``connection_spec_id``."""
        spec = await self.flows.flow_spec(sandbox, name)
        if connection_spec_id is not None:
            check_connector(spec, connection_spec_id)
        return spec

    def kept_flow_spec(
        self, sandbox: str | None, name: str, connection_spec_id: str | None = None
    ) -> Json | None:
        """The flow spec called ``name`` if it is cached and accepts ``connection_spec_id``."""
        spec = self.flows.kept_flow_spec(sandbox, name)
        if spec is None or (
            connection_spec_id is not None and not accepts_connector(spec, connection_spec_id)
        ):
            return None  # a call (flow_spec) raises the error that says why
        return spec

    async def runs(self, sandbox: str | None, flow_id: str) -> list[Json]:
        """Every run of a flow."""
        return await self.flows.runs(sandbox, flow_id)

    # Schema Registry: tenant field groups and schemas.
    async def tenant_id(self, sandbox: str | None) -> str:
        """The tenant id (cached per sandbox)."""
        return await self.registry.tenant_id(sandbox)

    async def create_field_group(self, sandbox: str | None, body: Json) -> str:
        """Create a tenant field group; return its ``$id``."""
        return await self.registry.create(sandbox, "fieldgroups", body)

    async def get_field_group(self, sandbox: str | None, field_group_id: str) -> Json:
        """A tenant field group by ``$id``."""
        return await self.registry.get(sandbox, "fieldgroups", field_group_id)

    async def find_field_group(self, sandbox: str | None, title: str) -> Json | None:
        """The tenant field group titled exactly ``title``."""
        return _first(await self.registry.find_by_title(sandbox, "fieldgroups", title))

    async def delete_field_group(self, sandbox: str | None, field_group_id: str) -> None:
        """Delete a tenant field group."""
        await self.registry.delete(sandbox, "fieldgroups", field_group_id)

    async def create_schema(self, sandbox: str | None, body: Json) -> str:
        """Create a tenant schema; return its ``$id``."""
        return await self.registry.create(sandbox, "schemas", body)

    async def get_schema(self, sandbox: str | None, schema_id: str) -> Json:
        """A tenant schema by ``$id``."""
        return await self.registry.get(sandbox, "schemas", schema_id)

    async def find_schema(self, sandbox: str | None, title: str) -> Json | None:
        """The tenant schema titled exactly ``title``."""
        return _first(await self.registry.find_by_title(sandbox, "schemas", title))

    async def delete_schema(self, sandbox: str | None, schema_id: str) -> None:
        """Delete a tenant schema."""
        await self.registry.delete(sandbox, "schemas", schema_id)

    # Catalog and Data Prep.
    async def create_dataset(self, sandbox: str | None, body: Json) -> str:
        """Create a dataset; return its id."""
        return await self.catalog.create_dataset(sandbox, body)

    async def get_dataset(self, sandbox: str | None, dataset_id: str) -> Json:
        """A dataset by id."""
        return await self.catalog.get_dataset(sandbox, dataset_id)

    async def find_dataset(self, sandbox: str | None, name: str) -> Json | None:
        """The dataset named exactly ``name``."""
        return _first(await self.catalog.find_datasets(sandbox, name))

    async def delete_dataset(self, sandbox: str | None, dataset_id: str) -> None:
        """Delete a dataset."""
        await self.catalog.delete_dataset(sandbox, dataset_id)

    async def create_mapping_set(self, sandbox: str | None, body: Json) -> MappingSetRef:
        """Create a mapping set; return its id and version."""
        return await self.dataprep.create_mapping_set(sandbox, body)

    async def get_mapping_set(self, sandbox: str | None, mapping_set_id: str) -> Json:
        """A mapping set by id."""
        return await self.dataprep.get_mapping_set(sandbox, mapping_set_id)

    async def recent_mapping_sets(self, sandbox: str | None, since: float) -> list[Json]:
        """Mapping sets made since ``since`` (epoch seconds, less the skew margin), newest first."""
        since_ms = int((since - CLOCK_SKEW_SECONDS) * 1000)
        return [item async for item in self.dataprep.recent_mapping_sets(sandbox, since_ms)]

    async def find_mapping_set(
        self,
        sandbox: str | None,
        schema_id: str,
        pairs: list[Pair] | None,
        *,
        since: float,
    ) -> Json | None:
        """The oldest recent set into ``schema_id`` (with ``pairs``, if given), or None."""
        recent = await self.recent_mapping_sets(sandbox, since)
        return oldest_requested_set(recent, schema_id, pairs)


def open_platform_client(
    settings: Settings,
    *,
    metrics: ClientMetrics | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PlatformClient:
    """The process's client, built from the settings (``http_transport`` replaces the real pool).

    At most twice ``DATAFLOW_CONCURRENCY`` requests are in flight: a dataflow may run its
    independent steps at once; and at most the adaptive limit of Platform calls, which moves
    up to ``DATAFLOW_PLATFORM_MAX_IN_FLIGHT`` with the Platform's answers
    (`worker.platform.gate`; fixed at that maximum when
    ``DATAFLOW_PLATFORM_ADAPTIVE_CONCURRENCY`` is false). Open it in the event loop that will
    use it (``asyncio.run``, or the engine's loop); close it with ``aclose()`` or
    ``async with``.
    """
    settings.require_credentials()
    if not (settings.client_id and settings.client_secret and settings.org_id):
        raise ConfigurationError("the Platform client needs a client id, secret and org id")
    http = http_transport or build_http_transport(
        pool_size=IN_FLIGHT_PER_DATAFLOW * settings.concurrency, ca_bundle=settings.ca_bundle
    )
    limits = LimiterConfig(
        max_limit=settings.platform_max_in_flight,
        adaptive=settings.platform_adaptive_concurrency,
        # As wide as the worker runs (a call per dataflow in flight), then down on the answers:
        # starting at 4 cost a burst of requests several round trips each (docs/adr/0012).
        initial=float(settings.concurrency),
    )
    gate = Gate(limits, metrics=metrics)
    transport = Transport(http, http_timeout(settings.http_timeout_seconds), metrics, gate)
    credentials = Credentials(
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        scopes=settings.scopes,
        org_id=settings.org_id,
    )
    auth = ImsAuth(transport, settings.ims_url, credentials, clock=clock)
    session = PlatformSession(
        transport,
        auth,
        platform_url=settings.platform_url,
        client_id=settings.client_id,
        org_id=settings.org_id,
        default_sandbox=settings.sandbox,
    )
    return PlatformClient(session, transport, auth)

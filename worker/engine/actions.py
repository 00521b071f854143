"""What each step does on the Platform: the bodies of `worker.platform.bodies`, sent by the client.

This is the only module that knows which client call and which body belong to which step; the
engine sees the `Actions` protocol only, so its tests can use a fake Platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from messages.models import DataflowRequested
from worker.core.record import StepOutcome
from worker.core.steps import Step
from worker.errors import InUseError, NotFoundError, RejectedError, RetryableError, StaleEtagError
from worker.platform import PlatformClient, bodies
from worker.platform.flowpatch import flow_patch, mapping_of

_PATCH_TRIES = 3  # re-reads after a stale etag before the update is retried later


@dataclass
class RequestContext:
    """What the actions of one request share: the request, its sandbox, what exists so far.

    ``created_at``: when the ledger accepted the command in progress (epoch seconds); nothing it
    created is older, which bounds the search for an unnamed resource (mapping sets).
    ``exact_mappings``: a mapping set is adopted only with exactly the request's mappings (a
    revision: older sets into the same schema exist).
    """

    request: DataflowRequested
    sandbox: str
    created_at: float = 0.0
    exact_mappings: bool = False
    resources: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


class Actions(Protocol):
    """What each step does on the Platform (`PlatformActions` is the real one)."""

    async def reuse(self, step: Step, context: RequestContext) -> str:
        """Look up and check a resource the step does not create (flow spec, supplied ids)."""

    def known(self, step: Step, context: RequestContext) -> str | None:
        """What ``reuse`` would answer when it is known without a call (a cached flow spec)."""

    async def create(self, step: Step, context: RequestContext, name: str | None) -> str:
        """Create the step's resource; return its id."""

    async def find(self, step: Step, context: RequestContext, name: str | None) -> str | None:
        """The id of the step's resource named `name` (unnamed: matched by content), or None."""

    async def delete(self, step: Step, context: RequestContext, resource_id: str) -> None:
        """Delete the step's resource (``InUseError``: something else still uses it)."""

    async def update(
        self, step: Step, context: RequestContext, resource_id: str | None
    ) -> tuple[str, StepOutcome]:
        """Bring an existing flow (``dataflow``) or its state (``flow_state``) to the request."""

    async def runs(self, context: RequestContext, flow_id: str) -> list[dict[str, Any]]:
        """Every run of a flow (for `follow_runs`)."""


_KINDS: dict[Step, bodies.Kind] = {
    Step.SOURCE_CONNECTION: "source",
    Step.FIELD_GROUP: "field group",
    Step.TARGET_DATASET: "dataset",
    Step.TARGET_CONNECTION: "target",
    Step.DATAFLOW: "flow",
}


def step_name(step: Step, request: DataflowRequested) -> str | None:
    """The name (title for schemas) the step's resource gets; None for unnamed resources."""
    if step is Step.TARGET_SCHEMA:
        return bodies.schema_title(request)
    kind = _KINDS.get(step)
    return bodies.resource_name(request, kind) if kind is not None else None


class PlatformActions:
    """The `Actions` of the real Platform (or the emulator) through one shared client."""

    def __init__(self, client: PlatformClient) -> None:
        self._client = client

    def known(self, step: Step, context: RequestContext) -> str | None:
        """The flow spec once looked up and accepting the connector: answered without a call."""
        if step is not Step.FLOW_SPEC:
            return None
        request = context.request
        spec = self._client.kept_flow_spec(
            context.sandbox, request.flow_spec_name, request.source.connection_spec_id
        )
        return None if spec is None else _flow_spec_id(spec, context)

    async def reuse(self, step: Step, context: RequestContext) -> str:
        """Check the flow spec and connector, or a supplied schema or dataset; return its id."""
        request, sandbox = context.request, context.sandbox
        if step is Step.FLOW_SPEC:
            spec = await self._client.flow_spec(
                sandbox, request.flow_spec_name, request.source.connection_spec_id
            )
            return _flow_spec_id(spec, context)
        if step is Step.TARGET_SCHEMA and request.target.schema_id is not None:
            schema = await self._client.get_schema(sandbox, request.target.schema_id)
            return str(schema.get("$id") or request.target.schema_id)
        if step is Step.TARGET_DATASET and request.target.dataset_id is not None:
            return await self._reuse_dataset(context, request.target.dataset_id)
        raise ValueError(f"step {step.value} has nothing to reuse")

    async def _reuse_dataset(self, context: RequestContext, dataset_id: str) -> str:
        dataset = await self._client.get_dataset(context.sandbox, dataset_id)
        schema_ref = dataset.get("schemaRef") or {}
        schema_id = schema_ref.get("id") if isinstance(schema_ref, dict) else None
        wanted = context.resources.get(Step.TARGET_SCHEMA.value)
        if schema_id != wanted:
            raise RejectedError(
                f"dataset {dataset_id} is of schema {schema_id}, not of the target schema {wanted}",
                code="dataset_schema_mismatch",
                title="Dataset does not fit the target schema",
            )
        return dataset_id

    async def create(self, step: Step, context: RequestContext, name: str | None) -> str:
        """Create the step's resource from its body; return its id."""
        request, sandbox, made = context.request, context.sandbox, context.resources
        client = self._client
        if step is Step.SOURCE_CONNECTION:
            return await client.create_source_connection(
                sandbox, bodies.source_connection_body(request)
            )
        if step is Step.FIELD_GROUP:
            tenant = await client.tenant_id(sandbox)
            return await client.create_field_group(
                sandbox, bodies.field_group_body(request, tenant)
            )
        if step is Step.TARGET_SCHEMA:
            body = bodies.schema_body(request, made.get(Step.FIELD_GROUP.value))
            return await client.create_schema(sandbox, body)
        schema_id = made.get(Step.TARGET_SCHEMA.value, "")
        if step is Step.TARGET_DATASET:
            return await client.create_dataset(sandbox, bodies.dataset_body(request, schema_id))
        if step is Step.TARGET_CONNECTION:
            dataset_id = made[Step.TARGET_DATASET.value]
            body = bodies.target_connection_body(request, schema_id, dataset_id)
            return await client.create_target_connection(sandbox, body)
        if step is Step.MAPPING_SET:
            tenant_id = await client.tenant_id(sandbox) if request.mapping_mode == "auto" else None
            ref = await client.create_mapping_set(
                sandbox, bodies.mapping_set_body(request, schema_id, tenant_id)
            )
            context.extras["mapping_version"] = ref.version
            return ref.id
        if step is Step.DATAFLOW:
            return await client.create_flow(sandbox, self._flow_body(context))
        raise ValueError(f"step {step.value} creates nothing")

    def _flow_body(self, context: RequestContext) -> dict[str, Any]:
        made = context.resources
        return bodies.flow_body(
            context.request,
            flow_spec_id=made[Step.FLOW_SPEC.value],
            source_connection_id=made[Step.SOURCE_CONNECTION.value],
            target_connection_id=made[Step.TARGET_CONNECTION.value],
            mapping_id=made[Step.MAPPING_SET.value],
            # Mapping sets are created at version 0; a resumed request did not see the answer.
            mapping_version=int(context.extras.get("mapping_version", 0)),
            flow_spec_version=str(context.extras.get("flow_spec_version", bodies.SPEC_VERSION)),
        )

    async def find(self, step: Step, context: RequestContext, name: str | None) -> str | None:
        """The id of the step's resource called `name` (mapping sets: by content), or None."""
        if step is Step.MAPPING_SET:
            return await self._find_mapping_set(context)
        if name is None:
            return None
        sandbox, client = context.sandbox, self._client
        finders = {
            Step.SOURCE_CONNECTION: client.find_source_connection,
            Step.FIELD_GROUP: client.find_field_group,
            Step.TARGET_SCHEMA: client.find_schema,
            Step.TARGET_DATASET: client.find_dataset,
            Step.TARGET_CONNECTION: client.find_target_connection,
            Step.DATAFLOW: client.find_flow,
        }
        finder = finders.get(step)
        found = await finder(sandbox, name) if finder is not None else None
        if found is None:
            return None
        resource_id = found.get("$id") or found.get("id")
        return str(resource_id) if resource_id else None

    async def _find_mapping_set(self, context: RequestContext) -> str | None:
        """The set made since the request was first seen, into its schema (shared: same pairs)."""
        request, sandbox, client = context.request, context.sandbox, self._client
        since = context.created_at or None
        schema_id = context.resources.get(Step.TARGET_SCHEMA.value)
        if since is None or schema_id is None:
            return None
        pairs = None
        if request.target.schema_id is not None or context.exact_mappings:
            # A supplied schema may be shared, and a revision's schema has older sets: match pairs.
            tenant_id = await client.tenant_id(sandbox) if request.mapping_mode == "auto" else None
            pairs = bodies.mapping_pairs(request, tenant_id)
        found = await client.find_mapping_set(sandbox, schema_id, pairs, since=float(since))
        if found is None:
            return None
        context.extras["mapping_version"] = int(found.get("version") or 0)
        return str(found["id"])

    async def runs(self, context: RequestContext, flow_id: str) -> list[dict[str, Any]]:
        """Every run of a flow."""
        return await self._client.runs(context.sandbox, flow_id)

    async def delete(self, step: Step, context: RequestContext, resource_id: str) -> None:
        """Delete the step's resource (mapping sets cannot be deleted)."""
        sandbox, client = context.sandbox, self._client
        deleters = {
            Step.SOURCE_CONNECTION: client.delete_source_connection,
            Step.FIELD_GROUP: client.delete_field_group,
            Step.TARGET_SCHEMA: client.delete_schema,
            Step.TARGET_DATASET: client.delete_dataset,
            Step.TARGET_CONNECTION: client.delete_target_connection,
            Step.DATAFLOW: client.delete_flow,
        }
        deleter = deleters.get(step)
        if deleter is None:
            raise ValueError(f"step {step.value} cannot be deleted")
        if step is Step.DATAFLOW:  # a running flow is disabled first, as the UI does
            try:
                await client.flow_action(sandbox, resource_id, "disable")
            except NotFoundError:
                return
        if step is Step.TARGET_DATASET:  # Catalog does not know which flows write a dataset
            users = await client.target_connections_using_dataset(sandbox, resource_id)
            if users:
                raise InUseError(
                    f"dataset {resource_id} is written by target connection {users[0].get('id')}",
                    code="in_use",
                    title="Dataset in use",
                )
        await deleter(sandbox, resource_id)

    async def update(
        self, step: Step, context: RequestContext, resource_id: str | None
    ) -> tuple[str, StepOutcome]:
        """Patch the flow where it differs from the request; set its state. Both idempotent."""
        if step is Step.FLOW_STATE:
            return await self._set_state(context)
        if step is not Step.DATAFLOW or resource_id is None:
            raise ValueError(f"step {step.value} updates nothing")
        sandbox, client = context.sandbox, self._client
        for _ in range(_PATCH_TRIES):
            try:
                flow, etag = await client.flow_with_etag(sandbox, resource_id)
            except NotFoundError:  # deleted behind our back: made again (a drift repaired)
                return await self._flow_again(context), "created"
            desired = self._flow_body(context)
            if mapping_of(flow)[0] == context.resources.get(Step.MAPPING_SET.value):
                version = mapping_of(flow)[1]
                if version is not None and "mapping_version" not in context.extras:
                    context.extras["mapping_version"] = int(version)
                    desired = self._flow_body(context)
            operations = flow_patch(flow, desired)
            if not operations:
                return resource_id, "updated"
            try:
                await client.patch_flow(sandbox, resource_id, operations, etag)
            except StaleEtagError:
                continue  # changed meanwhile: read it again and re-apply
            return resource_id, "updated"
        raise RetryableError(
            f"flow {resource_id} changed under each of {_PATCH_TRIES} patches",
            code="stale_etag",
        )

    async def _flow_again(self, context: RequestContext) -> str:
        name = step_name(Step.DATAFLOW, context.request)
        found = await self.find(Step.DATAFLOW, context, name)
        return found or await self.create(Step.DATAFLOW, context, name)

    async def _set_state(self, context: RequestContext) -> tuple[str, StepOutcome]:
        flow_id = context.resources[Step.DATAFLOW.value]
        enabled = context.request.enabled
        flow, _ = await self._client.flow_with_etag(context.sandbox, flow_id)
        if str(flow.get("state", "")).lower() != ("enabled" if enabled else "disabled"):
            await self._client.flow_action(
                context.sandbox, flow_id, "enable" if enabled else "disable"
            )
        return flow_id, "enabled" if enabled else "disabled"


def _flow_spec_id(spec: dict[str, Any], context: RequestContext) -> str:
    """The flow spec's id; its version is kept for the flow's body."""
    context.extras["flow_spec_version"] = str(spec.get("version") or bodies.SPEC_VERSION)
    return str(spec["id"])

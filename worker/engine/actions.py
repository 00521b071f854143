"""What each step does on the Platform: the bodies of `worker.platform.bodies`, sent by the client.

This is the only module that knows which client call and which body belong to which step; the
execution engine sees the `Actions` protocol only, so its tests can use a fake Platform.
"""

from __future__ import annotations

from typing import Any

from worker.core.steps import Step
from worker.engine.execution import REQUEST_CREATED_AT, RequestContext
from worker.errors import RejectedError
from worker.platform import bodies
from worker.platform.blocking import BlockingPlatformClient

_KINDS: dict[Step, bodies.Kind] = {
    Step.SOURCE_CONNECTION: "source",
    Step.FIELD_GROUP: "field group",
    Step.TARGET_DATASET: "dataset",
    Step.TARGET_CONNECTION: "target",
    Step.DATAFLOW: "flow",
}


def step_name(step: Step, context: RequestContext) -> str | None:
    """The name (title for schemas) the step's resource gets; None for unnamed resources."""
    if step is Step.TARGET_SCHEMA:
        return bodies.schema_title(context.request)
    kind = _KINDS.get(step)
    return bodies.resource_name(context.request, kind) if kind is not None else None


class PlatformActions:
    """The `Actions` of the real Platform (or the emulator) through one shared client."""

    def __init__(self, client: BlockingPlatformClient) -> None:
        self._client = client

    def name(self, step: Step, context: RequestContext) -> str | None:
        """The name the step's resource gets."""
        return step_name(step, context)

    def reuse(self, step: Step, context: RequestContext) -> str:
        """Check the flow spec and connector, or a supplied schema or dataset; return its id."""
        request, sandbox = context.request, context.sandbox
        if step is Step.FLOW_SPEC:
            spec = self._client.flow_spec(
                sandbox, request.flow_spec_name, request.source.connection_spec_id
            )
            context.extras["flow_spec_version"] = str(spec.get("version") or bodies.SPEC_VERSION)
            return str(spec["id"])
        if step is Step.TARGET_SCHEMA and request.target.schema_id is not None:
            schema = self._client.get_schema(sandbox, request.target.schema_id)
            return str(schema.get("$id") or request.target.schema_id)
        if step is Step.TARGET_DATASET and request.target.dataset_id is not None:
            return self._reuse_dataset(context, request.target.dataset_id)
        raise ValueError(f"step {step.value} has nothing to reuse")

    def _reuse_dataset(self, context: RequestContext, dataset_id: str) -> str:
        dataset = self._client.get_dataset(context.sandbox, dataset_id)
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

    def create(self, step: Step, context: RequestContext, name: str | None) -> str:
        """Create the step's resource from its body; return its id."""
        request, sandbox, made = context.request, context.sandbox, context.resources
        client = self._client
        if step is Step.SOURCE_CONNECTION:
            return client.create_source_connection(sandbox, bodies.source_connection_body(request))
        if step is Step.FIELD_GROUP:
            tenant = client.tenant_id(sandbox)
            return client.create_field_group(sandbox, bodies.field_group_body(request, tenant))
        if step is Step.TARGET_SCHEMA:
            body = bodies.schema_body(request, made.get(Step.FIELD_GROUP.value))
            return client.create_schema(sandbox, body)
        schema_id = made.get(Step.TARGET_SCHEMA.value, "")
        if step is Step.TARGET_DATASET:
            return client.create_dataset(sandbox, bodies.dataset_body(request, schema_id))
        if step is Step.TARGET_CONNECTION:
            dataset_id = made[Step.TARGET_DATASET.value]
            body = bodies.target_connection_body(request, schema_id, dataset_id)
            return client.create_target_connection(sandbox, body)
        if step is Step.MAPPING_SET:
            tenant_id = client.tenant_id(sandbox) if request.mapping_mode == "auto" else None
            ref = client.create_mapping_set(
                sandbox, bodies.mapping_set_body(request, schema_id, tenant_id)
            )
            context.extras["mapping_version"] = ref.version
            return ref.id
        if step is Step.DATAFLOW:
            return client.create_flow(sandbox, self._flow_body(context))
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

    def find(self, step: Step, context: RequestContext, name: str | None) -> str | None:
        """The id of the step's resource called `name` (mapping sets: by content), or None."""
        if step is Step.MAPPING_SET:
            return self._find_mapping_set(context)
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
        found = finder(sandbox, name) if finder is not None else None
        if found is None:
            return None
        resource_id = found.get("$id") or found.get("id")
        return str(resource_id) if resource_id else None

    def _find_mapping_set(self, context: RequestContext) -> str | None:
        """The set made since the request was first seen, into its schema (shared: same pairs)."""
        request, sandbox, client = context.request, context.sandbox, self._client
        since = context.extras.get(REQUEST_CREATED_AT)
        schema_id = context.resources.get(Step.TARGET_SCHEMA.value)
        if since is None or schema_id is None:
            return None
        pairs = None
        if request.target.schema_id is not None:  # a supplied schema may be shared: match pairs
            tenant_id = client.tenant_id(sandbox) if request.mapping_mode == "auto" else None
            pairs = bodies.mapping_pairs(request, tenant_id)
        found = client.find_mapping_set(sandbox, schema_id, pairs, since=float(since))
        if found is None:
            return None
        context.extras["mapping_version"] = int(found.get("version") or 0)
        return str(found["id"])

    def runs(self, context: RequestContext, flow_id: str) -> list[dict[str, Any]]:
        """Every run of a flow."""
        return self._client.runs(context.sandbox, flow_id)

    def delete(self, step: Step, context: RequestContext, resource_id: str) -> None:
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
        deleter(sandbox, resource_id)

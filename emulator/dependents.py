"""Who still uses a resource: what the services look at before they delete one.

Flow Service refuses to delete a base, source or target connection that a flow still uses; the
Schema Registry refuses to delete a tenant field group that a schema includes, and a tenant schema
that a Catalog dataset refers to. Catalog knows nothing of flows: it deletes a dataset that a
target connection names. Each function answers the users, oldest first (none: free to delete).
Deleting is rare, so these scan the sandbox's collection rather than keep indexes.
"""

from __future__ import annotations

from emulator.flowcreate import dataset_schema_id
from emulator.state import (
    CONNECTIONS,
    DATASETS,
    FLOWS,
    SCHEMAS,
    SOURCE_CONNECTIONS,
    TARGET_CONNECTIONS,
    Item,
    Scope,
    Store,
)

#: The flow field that lists the connections of each kind a flow uses directly.
_FLOW_FIELDS = {
    SOURCE_CONNECTIONS: "sourceConnectionIds",
    TARGET_CONNECTIONS: "targetConnectionIds",
}


def flows_using(store: Store, scope: Scope, kind: str, connection_id: str) -> list[Item]:
    """The flows that use a base connection (through its source connections), a source
    connection or a target connection; empty for any other kind."""
    if kind == CONNECTIONS:
        sources = store.collection(scope, SOURCE_CONNECTIONS)
        used = {source["id"] for source in sources.find("baseConnectionId", connection_id)}
        field = _FLOW_FIELDS[SOURCE_CONNECTIONS]
    elif kind in _FLOW_FIELDS:
        used, field = {connection_id}, _FLOW_FIELDS[kind]
    else:
        return []
    if not used:
        return []
    flows = store.collection(scope, FLOWS).values()
    return [flow for flow in flows if used.intersection(flow.get(field) or ())]


def schemas_using(store: Store, scope: Scope, field_group_id: str) -> list[Item]:
    """The tenant schemas that include a field group (in ``allOf`` or ``meta:extends``)."""
    return [
        schema
        for schema in store.collection(scope, SCHEMAS).values()
        if field_group_id in _references(schema)
    ]


def datasets_using(store: Store, scope: Scope, schema_id: str) -> list[Item]:
    """The Catalog datasets whose ``schemaRef.id`` is the schema."""
    datasets = store.collection(scope, DATASETS).values()
    return [dataset for dataset in datasets if dataset_schema_id(dataset) == schema_id]


def _references(schema: Item) -> set[str]:
    refs = {part.get("$ref") for part in schema.get("allOf") or () if isinstance(part, dict)}
    refs.update(ref for ref in schema.get("meta:extends") or () if isinstance(ref, str))
    return {ref for ref in refs if isinstance(ref, str)}

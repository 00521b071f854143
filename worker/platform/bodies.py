"""Request bodies and resource names for one dataflow request: pure, no I/O.

The bodies follow Adobe's OpenAPI specs where the tutorial's own do not: mapping sets use the
``outputSchema`` dialect (the legacy one sends ``"id": null``, which the spec forbids), and flows
send ``scheduleParams.interval`` and ``mappingVersion`` as strings, as the spec types them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from messages.models import Column, DataflowRequested, XdmType

Json = dict[str, Any]
Kind = Literal["source", "schema", "field group", "dataset", "target", "flow"]

DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
XED_FULL = "application/vnd.adobe.xed-full+json;version=1"
XED = "application/vnd.adobe.xed+json;version=1"
SPEC_VERSION = "1.0"
DESCRIPTION = "Created by dataflow-worker for request {request_id} (table {table})."

# The standard field groups a mapping destination needs, by the first segment of its path,
# used when the request names no field groups. `_id` and `identityMap` belong to the class.
STANDARD_FIELD_GROUPS: dict[str, str] = {
    "person": "https://ns.adobe.com/xdm/context/profile-person-details",
    **dict.fromkeys(
        (
            "personalEmail",
            "homeAddress",
            "homePhone",
            "mobilePhone",
            "faxPhone",
            "mailingAddress",
            "billingAddress",
            "shippingAddress",
            "billingAddressPhone",
            "shippingAddressPhone",
        ),
        "https://ns.adobe.com/xdm/context/profile-personal-details",
    ),
    **dict.fromkeys(
        ("workEmail", "workAddress", "workPhone", "organizations"),
        "https://ns.adobe.com/xdm/context/profile-work-details",
    ),
    "loyalty": "https://ns.adobe.com/xdm/mixins/profile/profile-loyalty-details",
    "userAccount": "https://ns.adobe.com/xdm/mixins/profile/profile-user-account-details",
}

# How a narrower `meta:xdmType` is written in a field definition (the registry infers it back).
_NARROW_TYPES: dict[str, Json] = {
    "byte": {"type": "integer", "minimum": -128, "maximum": 127},
    "short": {"type": "integer", "minimum": -32768, "maximum": 32767},
    "int": {"type": "integer", "minimum": -2147483648, "maximum": 2147483647},
    "long": {"type": "integer", "minimum": -9007199254740991, "maximum": 9007199254740991},
    "double": {"type": "number"},
    "date": {"type": "string", "format": "date"},
    "date-time": {"type": "string", "format": "date-time"},
    "map": {"type": "object", "additionalProperties": {"type": "string"}},
}
_NOT_A_KEY_CHAR = re.compile(r"[^A-Za-z0-9_]")


def resource_name(request: DataflowRequested, kind: Kind) -> str:
    """The name of a created resource (contract 2.4): ``<name> (<kind>) [<request_id>]``."""
    return f"{request.name} ({kind}) [{request.request_id}]"


def schema_title(request: DataflowRequested) -> str:
    """The title of the schema to create: the request's own title, else the contract name."""
    return request.target.schema_.title or resource_name(request, "schema")


def _description(request: DataflowRequested) -> str:
    return DESCRIPTION.format(request_id=request.request_id, table=request.source.table)


def key(name: str) -> str:
    """A field key: every character outside ``[A-Za-z0-9_]`` becomes ``_``; no leading digit."""
    text = _NOT_A_KEY_CHAR.sub("_", name)
    return "_" + text if text[:1].isdigit() else text


def table_key(table: str) -> str:
    """The key of a table, leaving out its schema (or dataset, database) part."""
    return key(table.rsplit(".", 1)[-1])


def column_keys(names: Iterable[str]) -> list[str]:
    """The key of each column, in order; a key already taken gets ``_2``, ``_3``, ..."""
    taken: set[str] = set()
    keys: list[str] = []
    for name in names:
        base = candidate = key(name)
        suffix = 2
        while candidate in taken:
            candidate = f"{base}_{suffix}"
            suffix += 1
        taken.add(candidate)
        keys.append(candidate)
    return keys


def _xdm(xdm: XdmType) -> Json:
    body: Json = {"type": xdm.type}
    if xdm.format is not None:
        body["format"] = xdm.format
    if xdm.items is not None:
        body["items"] = _xdm(xdm.items)
    return body


def column_body(column: Column) -> Json:
    """One column of a tabular source connection."""
    body: Json = {"name": column.name, "type": column.type, "xdm": _xdm(column.xdm)}
    if column.meta_xdm_type is not None:
        body["meta:xdmType"] = column.meta_xdm_type
    return body


def source_connection_body(request: DataflowRequested) -> Json:
    """``POST /flowservice/sourceConnections``: the table and its columns."""
    source = request.source
    return {
        "name": resource_name(request, "source"),
        "description": _description(request),
        "baseConnectionId": source.base_connection_id,
        "data": {"format": "tabular"},
        "params": {
            "tableName": source.table,
            "columns": [column_body(column) for column in source.columns],
        },
        "connectionSpec": {"id": source.connection_spec_id, "version": SPEC_VERSION},
    }


def field_definition(column: Column) -> Json:
    """The XDM field a column becomes in a generated field group."""
    if column.meta_xdm_type is not None and column.xdm.type != "array":
        narrow = dict(_NARROW_TYPES[column.meta_xdm_type])
    else:
        narrow = _xdm(column.xdm)
    return {"title": column.name, **narrow}


def field_group_body(request: DataflowRequested, tenant_id: str) -> Json:
    """``POST /schemaregistry/tenant/fieldgroups``: the columns under ``_<tenant>.<table>``."""
    table = table_key(request.source.table)
    keys = column_keys(request.source.column_names)
    fields = {
        field: field_definition(column)
        for field, column in zip(keys, request.source.columns, strict=True)
    }
    tenant_object = {
        "type": "object",
        "properties": {table: {"type": "object", "title": table, "properties": fields}},
    }
    return {
        "type": "object",
        "title": resource_name(request, "field group"),
        "description": _description(request),
        "meta:intendedToExtend": [request.target.schema_.class_],
        "definitions": {table: {"properties": {f"_{tenant_id}": tenant_object}}},
        "allOf": [{"$ref": f"#/definitions/{table}"}],
    }


def mapping_pairs(
    request: DataflowRequested, tenant_id: str | None = None
) -> list[tuple[str, str]]:
    """(column, XDM path) pairs: the request's own, or in auto mode one per column."""
    if request.mapping_mode != "auto":
        return [(mapping.source, mapping.destination) for mapping in request.mappings]
    if tenant_id is None:
        raise ValueError("auto mappings need the tenant id")
    prefix = f"_{tenant_id}.{table_key(request.source.table)}"
    names = request.source.column_names
    return [
        (name, f"{prefix}.{field}") for name, field in zip(names, column_keys(names), strict=True)
    ]


def inferred_field_groups(destinations: Iterable[str]) -> list[str]:
    """The standard field groups that explicit mapping destinations need, in first-use order."""
    groups: list[str] = []
    for destination in destinations:
        group = STANDARD_FIELD_GROUPS.get(destination.split(".", 1)[0])
        if group is not None and group not in groups:
            groups.append(group)
    return groups


def schema_field_groups(request: DataflowRequested, field_group_id: str | None = None) -> list[str]:
    """The field groups of the schema to create, with the generated one (auto mode) last."""
    wanted = request.target.schema_.field_groups
    groups = (
        list(wanted) if wanted else inferred_field_groups(m.destination for m in request.mappings)
    )
    if field_group_id is not None and field_group_id not in groups:
        groups.append(field_group_id)
    return groups


def schema_body(request: DataflowRequested, field_group_id: str | None = None) -> Json:
    """``POST /schemaregistry/tenant/schemas``: one class and its field groups."""
    refs = [request.target.schema_.class_, *schema_field_groups(request, field_group_id)]
    return {
        "type": "object",
        "title": schema_title(request),
        "description": _description(request),
        "allOf": [{"$ref": ref} for ref in refs],
    }


def dataset_body(request: DataflowRequested, schema_id: str) -> Json:
    """``POST /catalog/dataSets``: a dataset of the target schema."""
    return {
        "name": resource_name(request, "dataset"),
        "description": _description(request),
        "schemaRef": {"id": schema_id, "contentType": XED},
    }


def target_connection_body(request: DataflowRequested, schema_id: str, dataset_id: str) -> Json:
    """``POST /flowservice/targetConnections``: the data lake, into the dataset."""
    return {
        "name": resource_name(request, "target"),
        "description": _description(request),
        "data": {"format": "parquet_xdm", "schema": {"id": schema_id, "version": XED_FULL}},
        "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": SPEC_VERSION},
    }


def mapping_set_body(
    request: DataflowRequested, schema_id: str, tenant_id: str | None = None
) -> Json:
    """``POST /conversion/mappingSets`` in the ``outputSchema`` dialect."""
    return {
        "outputSchema": {"schemaRef": {"id": schema_id, "contentType": XED_FULL}},
        "mappings": [
            {"sourceType": "ATTRIBUTE", "source": source, "destination": destination}
            for source, destination in mapping_pairs(request, tenant_id)
        ],
    }


def schedule_params(request: DataflowRequested) -> Json:
    """``scheduleParams``: epoch seconds, and the interval as a string as the spec types it."""
    schedule = request.schedule
    params: Json = {"startTime": schedule.start_time, "frequency": schedule.frequency}
    if schedule.frequency != "once":
        if schedule.interval is not None:
            params["interval"] = str(schedule.interval)
        if schedule.backfill is not None:
            params["backfill"] = schedule.backfill
    return params


def flow_body(
    request: DataflowRequested,
    *,
    flow_spec_id: str,
    source_connection_id: str,
    target_connection_id: str,
    mapping_id: str,
    mapping_version: int,
    flow_spec_version: str = SPEC_VERSION,
) -> Json:
    """``POST /flowservice/flows``: Copy with the delta column, then the mapping set."""
    delta = request.delta_column
    return {
        "name": resource_name(request, "flow"),
        "description": _description(request),
        "flowSpec": {"id": flow_spec_id, "version": flow_spec_version},
        "sourceConnectionIds": [source_connection_id],
        "targetConnectionIds": [target_connection_id],
        "transformations": [
            {
                "name": "Copy",
                "params": {
                    "deltaColumn": {
                        "name": delta.name,
                        "dateFormat": delta.date_format,
                        "timezone": delta.timezone,
                    }
                },
            },
            {
                "name": "Mapping",
                "params": {"mappingId": mapping_id, "mappingVersion": str(mapping_version)},
            },
        ],
        "scheduleParams": schedule_params(request),
    }

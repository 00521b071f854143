"""Schema Registry documents: composing a schema, building the registry's response shapes.

Pure: the service module passes in the catalogue, a lookup for tenant field groups and the
request's context (tenant, org, sandbox, client, time). Stored documents carry an ``id`` (the
``$id``) for the emulator's own listings; ``strip_internal`` removes it from responses.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from emulator.refusal import RefusedRequestError
from emulator.xdm import (
    Catalogue,
    SchemaDefinitionError,
    StandardResource,
    standard_catalogue,
    tenant_field_paths,
)

Item = dict[str, Any]
GLOBAL_LIB_VERSION = "1.50.1"
_INTERNAL = ("id",)


class CompositionError(RefusedRequestError):
    """A schema body that does not compose; ``code`` is the registry error code."""


@dataclass(frozen=True)
class Composition:
    """Who creates a resource, where and when: what the registry stamps on it."""

    tenant: str
    org: str
    sandbox: str
    client_id: str
    user_id: str
    now_ms: int


@dataclass(frozen=True)
class SchemaParts:
    """A schema's class and field groups, resolved."""

    schema_class: StandardResource
    field_groups: tuple[str, ...]  # $id values, in allOf order


def _refs(body: Mapping[str, Any]) -> list[str]:
    all_of = body.get("allOf")
    if not isinstance(all_of, list) or not all_of:
        raise CompositionError(1000, "allOf is required: one class and zero or more field groups")
    refs: list[str] = []
    for part in all_of:
        ref = part.get("$ref") if isinstance(part, dict) else None
        if not isinstance(ref, str) or not ref:
            raise CompositionError(1000, "every allOf item must be an object with a $ref")
        refs.append(ref)
    return refs


def compose_schema(
    body: Mapping[str, Any],
    catalogue: Catalogue,
    find_field_group: Callable[[str], Item | None],
) -> SchemaParts:
    """Resolve a schema body's ``allOf`` into exactly one class plus field groups."""
    if body.get("type", "object") != "object":
        raise CompositionError(1000, "type must be 'object'")
    classes: list[StandardResource] = []
    groups: list[tuple[str, tuple[str, ...]]] = []
    for ref in _refs(body):
        standard = catalogue.find(ref)
        if standard is not None and standard.kind == "class":
            classes.append(standard)
        elif standard is not None:
            groups.append((standard.id, standard.intended_to_extend))
        else:
            tenant_group = find_field_group(ref)
            if tenant_group is None:
                raise CompositionError(1301, f"The referenced resource {ref} does not exist")
            groups.append((tenant_group["$id"], tuple(tenant_group["meta:intendedToExtend"])))
    if len(classes) != 1:
        found = ", ".join(c.id for c in classes) or "none"
        raise CompositionError(1302, f"A schema must extend exactly one class; found {found}")
    schema_class = classes[0]
    for group_id, intended in groups:
        if intended and schema_class.id not in intended:
            raise CompositionError(
                1303, f"The field group {group_id} cannot be used with the class {schema_class.id}"
            )
    return SchemaParts(schema_class, tuple(dict.fromkeys(g for g, _ in groups)))


def _metadata(context: Composition, document: Mapping[str, Any]) -> Item:
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    return {
        "repo:createdDate": context.now_ms,
        "repo:lastModifiedDate": context.now_ms,
        "xdm:createdClientId": context.client_id,
        "xdm:lastModifiedClientId": context.client_id,
        "xdm:createdUserId": context.user_id,
        "xdm:lastModifiedUserId": context.user_id,
        "eTag": digest,
        "meta:globalLibVersion": GLOBAL_LIB_VERSION,
    }


def _sandbox(context: Composition) -> Item:
    sandbox_id = uuid.uuid5(uuid.NAMESPACE_URL, f"aep:{context.org}/{context.sandbox}")
    return {
        "meta:containerId": "tenant",
        "meta:sandboxId": str(sandbox_id),
        "meta:sandboxType": "production" if context.sandbox == "prod" else "development",
        "meta:tenantNamespace": f"_{context.tenant}",
    }


def _ids(context: Composition, resource_type: str, hex_id: str) -> Item:
    return {
        "$id": f"https://ns.adobe.com/{context.tenant}/{resource_type}/{hex_id}",
        "meta:altId": f"_{context.tenant}.{resource_type}.{hex_id}",
        "meta:resourceType": resource_type,
        "version": "1.0",
    }


def schema_document(
    body: Mapping[str, Any], parts: SchemaParts, context: Composition, hex_id: str
) -> Item:
    """The stored (and returned) document of a new tenant schema."""
    cls = parts.schema_class
    refs = [cls.id, *parts.field_groups]
    document: Item = {
        **_ids(context, "schemas", hex_id),
        "title": body["title"],
        "type": "object",
        "description": body.get("description", ""),
        "allOf": [_typed({"$ref": ref}) for ref in refs],
        "refs": refs,
        "imsOrg": context.org,
        "meta:extensible": False,
        "meta:abstract": False,
        "meta:extends": list(dict.fromkeys([*cls.extends, cls.id, *parts.field_groups])),
        "meta:xdmType": "object",
    }
    document["meta:registryMetadata"] = _metadata(context, document)
    document["meta:class"] = cls.id
    document.update(_sandbox(context))
    document["id"] = document["$id"]
    return document


def _field_group_all_of(body: Mapping[str, Any]) -> list[Any]:
    all_of = body.get("allOf")
    if isinstance(all_of, list) and all_of:
        return all_of
    return [{"$ref": f"#/definitions/{name}"} for name in body["definitions"]]


def _typed(part: Any) -> Any:
    """An ``allOf`` entry as the registry returns it: typed an object."""
    return {**part, "type": "object", "meta:xdmType": "object"} if isinstance(part, dict) else part


def field_group_document(body: Mapping[str, Any], context: Composition, hex_id: str) -> Item:
    """The stored (and returned) document of a new tenant field group."""
    document: Item = {
        **_ids(context, "mixins", hex_id),
        "title": body["title"],
        "type": "object",
        "description": body.get("description", ""),
        "definitions": body["definitions"],
        "allOf": [_typed(part) for part in _field_group_all_of(body)],
        "refs": [],
        "imsOrg": context.org,
        "meta:extensible": True,
        "meta:abstract": True,
        "meta:intendedToExtend": list(body.get("meta:intendedToExtend", [])),
        "meta:xdmType": "object",
    }
    document["meta:registryMetadata"] = _metadata(context, document)
    document.update(_sandbox(context))
    document["id"] = document["$id"]
    return document


#: When the emulator says its standard resources were released (it does not know the real dates).
GLOBAL_RELEASED = "2020-08-10"
GLOBAL_RELEASED_MS = 1597017600000
_JSON_SCHEMA = "http://json-schema.org/draft-06/schema#"


def global_document(resource: StandardResource, usage_count: int = 0) -> Item:
    """The registry's whole document of a standard class or field group, as lookups and full
    lists answer it: its fields under ``definitions``, referenced from ``allOf``.

    ``usage_count`` is how many of the sandbox's schemas use a field group.
    """
    name = resource.id.rstrip("/").rsplit("/", 1)[-1]
    is_class = resource.kind == "class"
    refs = [*resource.extends, f"#/definitions/{name}"]
    kind_name = "class" if is_class else "field group"
    document: Item = {
        "$id": resource.id,
        "meta:altId": resource.alt_id,
        "meta:resourceType": "classes" if is_class else "mixins",
        "version": GLOBAL_LIB_VERSION,
        "title": resource.title,
        "type": "object",
        "description": f"The standard XDM {kind_name} {resource.title} (as the emulator knows it).",
        "definitions": {name: {"properties": properties_of_fields(resource.fields)}},
        "allOf": [_typed({"$ref": ref}) for ref in refs],
        "meta:extensible": True,
        "meta:abstract": True,
        "meta:xdmType": "object",
        "meta:status": "stable",
        "$schema": _JSON_SCHEMA,
        "meta:containerId": "global",
    }
    if is_class:
        document["meta:extends"] = list(resource.extends)
    else:
        document["meta:intendedToExtend"] = list(resource.intended_to_extend)
    digest = hashlib.sha256(f"{resource.id}@{GLOBAL_LIB_VERSION}".encode()).hexdigest()
    metadata: Item = {
        "repo:createdDate": GLOBAL_RELEASED_MS,
        "repo:lastModifiedDate": GLOBAL_RELEASED_MS,
        "eTag": digest,
        "meta:globalLibVersion": GLOBAL_LIB_VERSION,
    }
    document["meta:registryMetadata"] = metadata
    if not is_class:
        metadata["meta:usageCount"] = usage_count
        document["meta:tags"] = {"industry": ["all"]}
        document["meta:createdDate"] = GLOBAL_RELEASED
    return document


def strip_internal(item: Mapping[str, Any]) -> Item:
    """A copy of a stored document without the emulator's own bookkeeping keys."""
    return {key: value for key, value in item.items() if key not in _INTERNAL}


def schema_fields_from(
    schema: Mapping[str, Any], find_field_group: Callable[[str], Item | None], tenant: str
) -> dict[str, str]:
    """Every field path of a stored schema with its type: class, standard and tenant groups."""
    catalogue = standard_catalogue()
    fields: dict[str, str] = {}
    for ref in schema.get("refs", ()):
        standard = catalogue.find(ref)
        if standard is not None:
            fields.update(standard.fields)
            continue
        group = find_field_group(ref)
        if group is not None:
            try:
                fields.update(tenant_field_paths(group, tenant))
            except SchemaDefinitionError:
                continue
    return fields


_JSON_TYPES: dict[str, Item] = {
    "date": {"type": "string", "format": "date"},
    "date-time": {"type": "string", "format": "date-time"},
    "map": {"type": "object", "meta:xdmType": "map"},
    "int": {"type": "integer", "meta:xdmType": "int"},
    "long": {"type": "integer", "meta:xdmType": "long"},
    "short": {"type": "integer", "meta:xdmType": "short"},
    "byte": {"type": "integer", "meta:xdmType": "byte"},
    "double": {"type": "number", "meta:xdmType": "double"},
}


def properties_of_fields(fields: Mapping[str, str]) -> Item:
    """Nested ``properties`` (as ``xed-full`` shows them) from dotted paths and their types."""
    root: Item = {}
    for path in sorted(fields, key=lambda p: p.count(".")):
        node = root
        parts = path.split(".")
        for part in parts[:-1]:
            parent = node.setdefault(part, {"type": "object", "properties": {}})
            if parent.get("type") == "array":
                parent = parent.setdefault("items", {})
                parent["type"] = "object"
            node = parent.setdefault("properties", {})
        kind = fields[path]
        if kind == "object":
            node.setdefault(parts[-1], {"type": "object", "properties": {}})
        elif kind == "array":
            node.setdefault(parts[-1], {"type": "array", "items": {"type": "string"}})
        else:
            node.setdefault(parts[-1], dict(_JSON_TYPES.get(kind, {"type": kind})))
    return root

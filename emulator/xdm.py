"""The XDM catalogue: standard classes and field groups, and the field paths a schema exposes.

Pure: no I/O beyond reading the packaged catalogue file. Field names follow the Platform's
rendering of XDM: the ``xdm:`` prefix is dropped, ``@name`` becomes ``_name``, and a name in
another namespace (``repo:createDate``) nests under ``_<namespace>`` (``_repo.createDate``).

The catalogue (``emulator/data/xdm-catalogue.json``) holds, per class and field group, its
``$id``, title, ``extends`` (classes) or ``intendedToExtend`` (field groups), and a tree of
fields: a dict is an object, a one-item list is an array of that item, a string is a leaf type.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
EXPERIENCE_EVENT_CLASS = "https://ns.adobe.com/xdm/context/experienceevent"

_INDEX = re.compile(r"\[(\d+|\*)?\]")


@dataclass(frozen=True)
class StandardResource:
    """A standard XDM class or field group and the field paths it contributes."""

    id: str
    title: str
    kind: str  # "class" or "fieldgroup"
    extends: tuple[str, ...]
    intended_to_extend: tuple[str, ...]
    fields: Mapping[str, str]

    @property
    def alt_id(self) -> str:
        """The Platform's ``meta:altId`` of a global resource (``_xdm.context.profile``)."""
        return global_alt_id(self.id)


@dataclass(frozen=True)
class Catalogue:
    """The standard classes and field groups the emulator knows, keyed by ``$id``."""

    classes: Mapping[str, StandardResource]
    field_groups: Mapping[str, StandardResource]

    def find(self, ref: str) -> StandardResource | None:
        """The class or field group whose ``$id`` or ``meta:altId`` is ``ref``, if any."""
        found = self.classes.get(ref) or self.field_groups.get(ref)
        if found is not None:
            return found
        return self._by_alt_id.get(ref)

    @functools.cached_property
    def _by_alt_id(self) -> dict[str, StandardResource]:
        every = [*self.classes.values(), *self.field_groups.values()]
        return {resource.alt_id: resource for resource in every}


def global_alt_id(resource_id: str) -> str:
    """``https://ns.adobe.com/xdm/context/profile`` -> ``_xdm.context.profile``."""
    path = resource_id.split("://", 1)[-1].split("/", 1)[-1]
    return "_" + path.replace("/", ".")


def platform_name(key: str) -> list[str]:
    """The path segments the Platform shows for a raw XDM property name."""
    if key.startswith("xdm:"):
        return [key[4:]]
    if key.startswith("@"):
        return ["_" + key[1:]]
    if ":" in key:
        namespace, name = key.split(":", 1)
        return ["_" + namespace, name]
    return [key]


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Every dotted path of a catalogue field tree with its type (objects and arrays included)."""
    paths: dict[str, str] = {}
    for name, node in tree.items():
        path = f"{prefix}{name}"
        _flatten_node(node, path, paths)
    return paths


def _flatten_node(node: Any, path: str, paths: dict[str, str]) -> None:
    if isinstance(node, dict):
        paths[path] = "object"
        paths.update(flatten(node, path + "."))
    elif isinstance(node, list):
        paths[path] = "array"
        item = node[0] if node else "string"
        if isinstance(item, dict | list):
            # Array items are addressed through the array's own path (``items.sku``).
            inner: dict[str, str] = {}
            _flatten_node(item, path, inner)
            inner.pop(path, None)
            paths.update(inner)
    else:
        paths[path] = str(node)


def normalize_path(path: str) -> str:
    """A destination without array indices: ``items[0].sku``, ``items[*].sku`` -> ``items.sku``."""
    return _INDEX.sub("", path.strip())


def _resource(entry: Mapping[str, Any], kind: str) -> StandardResource:
    return StandardResource(
        id=entry["$id"],
        title=entry["title"],
        kind=kind,
        extends=tuple(entry.get("extends", ())),
        intended_to_extend=tuple(entry.get("intendedToExtend", ())),
        fields=flatten(entry["fields"]),
    )


def parse_catalogue(document: Mapping[str, Any]) -> Catalogue:
    """Build a catalogue from the packaged JSON document's structure."""
    classes = [_resource(entry, "class") for entry in document["classes"]]
    groups = [_resource(entry, "fieldgroup") for entry in document["fieldGroups"]]
    return Catalogue(
        classes={resource.id: resource for resource in classes},
        field_groups={resource.id: resource for resource in groups},
    )


@functools.cache
def standard_catalogue() -> Catalogue:
    """The packaged catalogue (immutable, so reading it once per process is safe)."""
    text = resources.files("emulator").joinpath("data/xdm-catalogue.json").read_text("utf-8")
    return parse_catalogue(json.loads(text))


class SchemaDefinitionError(ValueError):
    """A tenant field group's definitions are malformed."""


class NamespaceError(SchemaDefinitionError):
    """A tenant field group places fields outside its ``_<tenant>`` namespace."""


def tenant_field_paths(body: Mapping[str, Any], tenant_id: str) -> dict[str, str]:
    """The dotted paths a tenant field group body defines; all must live under ``_<tenant>``."""
    definitions = body.get("definitions", {})
    if not isinstance(definitions, dict):
        raise SchemaDefinitionError("definitions must be an object")
    paths: dict[str, str] = {}
    for name, definition in definitions.items():
        if not isinstance(definition, dict):
            raise SchemaDefinitionError(f"definition {name!r} must be an object")
        _collect(definition, "", paths)
    namespace = f"_{tenant_id}"
    stray = sorted(p for p in paths if p.split(".", 1)[0] != namespace)
    if stray:
        raise NamespaceError(
            f"custom fields must be nested under {namespace}; found {', '.join(stray[:5])}"
        )
    return paths


def _collect(node: Mapping[str, Any], prefix: str, paths: dict[str, str]) -> None:
    properties = node.get("properties", {})
    if not isinstance(properties, dict):
        raise SchemaDefinitionError(f"properties of {prefix or 'the definition'} must be an object")
    for key, child in properties.items():
        if not isinstance(child, dict):
            raise SchemaDefinitionError(f"property {prefix}{key} must be an object")
        path = prefix + ".".join(platform_name(key))
        kind = _json_schema_type(child)
        paths[path] = kind
        if kind == "object":
            _collect(child, path + ".", paths)
        elif kind == "array" and isinstance(child.get("items"), dict):
            inner: dict[str, str] = {}
            _collect(child["items"], path + ".", inner)
            paths.update(inner)
    for part in node.get("allOf") or ():
        if isinstance(part, dict):
            _collect(part, prefix, paths)


def _json_schema_type(node: Mapping[str, Any]) -> str:
    declared = node.get("meta:xdmType")
    if isinstance(declared, str):
        return declared
    kind = node.get("type", "object")
    if not isinstance(kind, str):
        raise SchemaDefinitionError(f"type must be a string, not {kind!r}")
    if kind == "string" and node.get("format") in ("date", "date-time"):
        return str(node["format"])
    if kind == "object" and "additionalProperties" in node and not node.get("properties"):
        return "map"  # as the registry infers it
    return kind


def missing_destinations(fields: Mapping[str, str], destinations: Iterable[str]) -> list[str]:
    """The destinations (in order, without duplicates) that are not field paths of the schema.

    A path below a ``map`` field (``identityMap.ECID.id``) exists: a map's keys are free.
    """
    maps = tuple(path + "." for path, kind in fields.items() if kind == "map")
    missing: list[str] = []
    for destination in destinations:
        path = normalize_path(destination)
        known = path in fields or path.startswith(maps)
        if not known and destination not in missing:
            missing.append(destination)
    return missing

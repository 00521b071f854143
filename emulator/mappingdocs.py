"""Data Prep mapping sets: reading both request dialects, building the stored shape.

Pure. Two request dialects reach ``POST /mappingSets``: the ``outputSchema`` one
(``{"outputSchema": {"schemaRef": {...}}, "mappings": [{"sourceType", "source",
"destination"}]}``) and the older ``xdmSchema`` one the database tutorial uses
(``{"xdmSchema", "xdmVersion", "mappings": [{"sourceAttribute", "destinationXdmPath"}]}``).
Both are stored in one shape whose mappings carry both field forms. An ``ATTRIBUTE`` mapping is
stored with ``sourceType`` ``text/x.schema-path`` (as the service shows it); other source
types are kept as sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from emulator.refusal import RefusedRequestError

Item = dict[str, Any]
SOURCE_TYPES = ("ATTRIBUTE", "EXPRESSION", "STATIC")
SCHEMA_PATH = "text/x.schema-path"
DEFAULT_CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"


class MappingSetError(RefusedRequestError):
    """A mapping set body the service refuses; ``code`` is the emulator's Data Prep code."""


@dataclass(frozen=True)
class MappingRequest:
    """One requested mapping, whichever dialect it came in."""

    source_type: str
    source: str
    destination: str
    identity: bool
    primary_identity: bool
    extra: Mapping[str, Any]


@dataclass(frozen=True)
class MappingSetRequest:
    """A mapping set body, read."""

    schema_id: str
    content_type: str
    mappings: tuple[MappingRequest, ...]
    extra: Mapping[str, Any]


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _schema_ref(body: Mapping[str, Any]) -> tuple[str, str]:
    output = body.get("outputSchema")
    if isinstance(output, dict) and isinstance(output.get("schemaRef"), dict):
        ref = output["schemaRef"]
        schema_id = _text(ref.get("id"))
        if schema_id is None:
            raise MappingSetError(1001, "outputSchema.schemaRef.id must be a schema $id")
        return schema_id, _text(ref.get("contentType")) or DEFAULT_CONTENT_TYPE
    schema_id = _text(body.get("xdmSchema"))
    if schema_id is None:
        raise MappingSetError(
            1001, "the target schema is required: outputSchema.schemaRef.id or xdmSchema"
        )
    return schema_id, DEFAULT_CONTENT_TYPE


def _mapping(index: int, raw: Any) -> MappingRequest:
    if not isinstance(raw, dict):
        raise MappingSetError(1001, f"mappings[{index}] must be an object")
    source_type = raw.get("sourceType", "ATTRIBUTE")
    if source_type == SCHEMA_PATH:
        source_type = "ATTRIBUTE"
    if source_type not in SOURCE_TYPES:
        raise MappingSetError(
            1001, f"mappings[{index}].sourceType must be one of {', '.join(SOURCE_TYPES)}"
        )
    source = _text(raw.get("source")) or _text(raw.get("sourceAttribute"))
    destination = _text(raw.get("destination")) or _text(raw.get("destinationXdmPath"))
    if source is None:
        raise MappingSetError(1001, f"mappings[{index}] needs a source (or sourceAttribute)")
    if destination is None:
        raise MappingSetError(
            1001, f"mappings[{index}] needs a destination (or destinationXdmPath)"
        )
    extra = {k: raw[k] for k in ("name", "description") if isinstance(raw.get(k), str)}
    extra.update({k: raw[k] for k in ("identityGroup", "namespaceCode") if k in raw})
    return MappingRequest(
        source_type=source_type,
        source=source,
        destination=destination,
        identity=raw.get("identity") is True,
        primary_identity=raw.get("primaryIdentity") is True,
        extra=extra,
    )


def read_request(body: Any) -> MappingSetRequest:
    """Read a create or update body in either dialect."""
    if not isinstance(body, dict):
        raise MappingSetError(1001, "The request body must be a JSON object")
    schema_id, content_type = _schema_ref(body)
    raw_mappings = body.get("mappings")
    if not isinstance(raw_mappings, list) or not raw_mappings:
        raise MappingSetError(1001, "mappings must be a non-empty list")
    mappings = tuple(_mapping(i, raw) for i, raw in enumerate(raw_mappings))
    seen: set[str] = set()
    for mapping in mappings:
        if mapping.destination in seen:
            raise MappingSetError(
                1004, f"The destination {mapping.destination} is mapped more than once"
            )
        seen.add(mapping.destination)
    extra = {k: body[k] for k in ("name", "description") if isinstance(body.get(k), str)}
    return MappingSetRequest(schema_id, content_type, mappings, extra)


@dataclass(frozen=True)
class Stamp:
    """Who changes a mapping set and when."""

    user: str
    now_ms: int


def _stored_mapping(mapping: MappingRequest, stamp: Stamp, new_id: Callable[[], str]) -> Item:
    source_type = SCHEMA_PATH if mapping.source_type == "ATTRIBUTE" else mapping.source_type
    return {
        "id": new_id(),
        "version": 0,
        "createdDate": stamp.now_ms,
        "modifiedDate": stamp.now_ms,
        "createdBy": stamp.user,
        "modifiedBy": stamp.user,
        "sourceType": source_type,
        "source": mapping.source,
        "destination": mapping.destination,
        "identity": mapping.identity,
        "primaryIdentity": mapping.primary_identity,
        "matchScore": 0.0,
        "functionVersion": 1,
        "sourceAttribute": mapping.source,
        "destinationXdmPath": mapping.destination,
        **mapping.extra,
    }


def build_mapping_set(
    request: MappingSetRequest,
    stamp: Stamp,
    new_id: Callable[[], str],
    previous: Mapping[str, Any] | None = None,
) -> Item:
    """The stored shape of a new mapping set, or of the next version of ``previous``."""
    version = 0 if previous is None else int(previous["version"]) + 1
    created = stamp if previous is None else Stamp(previous["createdBy"], previous["createdDate"])
    output_id = new_id() if previous is None else previous["outputSchema"]["id"]
    schema_ref = {"id": request.schema_id, "contentType": request.content_type}
    return {
        "id": new_id() if previous is None else previous["id"],
        "version": version,
        "createdDate": created.now_ms,
        "modifiedDate": stamp.now_ms,
        "createdBy": created.user,
        "modifiedBy": stamp.user,
        **request.extra,
        "supportVersion": "1.1",
        "outputSchema": {"id": output_id, "version": version, "schemaRef": schema_ref},
        "mappings": [_stored_mapping(m, stamp, new_id) for m in request.mappings],
        "status": "PUBLISHED",
        "strictMapping": False,
        "allowNullValues": False,
        "xdmVersion": "1.0",
        "schemaRef": schema_ref,
        "xdmSchema": request.schema_id,
    }


def summary(item: Mapping[str, Any]) -> Item:
    """What ``POST /mappingSets`` answers: id, version and the audit fields."""
    keys = ("id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy")
    return {key: item[key] for key in keys}

"""From a database's tables to an onboarding manifest: type mapping, delta column, requests (pure).

``dataflow-worker discover`` reads the tables (``worker.onboarding.introspect`` does the I/O) and
this module decides everything else:

* each SQL type maps to an XDM type (``map_type``): integers with their ``meta_xdm_type`` width,
  numeric/decimal to number, floats to number (double), dates and timestamps to strings with a
  format, json and unknown types to string (like the Meltano SDK's fallback), arrays to arrays of
  their element; binary columns are left out with a note (XDM has no bytes type);
* the delta column is a timestamp column named like ``updated_at``/``modified``/``last_modified``
  first, else the first timestamp column; a table without one is *skipped* with the reason, since
  a placeholder would only fail later at validation;
* the request id is ``tbl-`` and 32 hex digits of SHA-256 of ``<base_connection_id>/<table>``, so
  discovering again names the same requests, and ``mapping_mode`` is ``auto``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import yaml

from messages import validate_request

DEFAULT_SCHEDULE: dict[str, Any] = {"frequency": "day", "interval": 1, "backfill": True}
"""The schedule of discovered tables, with the ``start_time`` given at discovery."""

_DELTA_NAMES = (
    "updated_at",
    "last_updated",
    "last_modified",
    "last_modified_at",
    "modified_at",
    "modified",
    "updated",
    "updated_on",
    "modified_on",
    "changed_at",
)
_DELTA_PATTERN = re.compile(r"(updated|modified|changed)")

_INTEGERS: dict[str, str] = {
    "tinyint": "byte",
    "smallint": "short",
    "int2": "short",
    "smallserial": "short",
    "year": "short",
    "mediumint": "int",
    "int": "int",
    "integer": "int",
    "int4": "int",
    "serial": "int",
    "bigint": "long",
    "int8": "long",
    "bigserial": "long",
}
_DOUBLES = {"real", "float", "float4", "float8", "double", "double precision"}
_DECIMALS = {"numeric", "decimal", "dec", "fixed", "money"}
_BOOLEANS = {"boolean", "bool"}
_DATES = {"date"}
_TIMESTAMPS = {
    "timestamp",
    "timestamptz",
    "timestamp with time zone",
    "timestamp without time zone",
    "datetime",
}
_STRINGS = {
    "char",
    "character",
    "varchar",
    "character varying",
    "nchar",
    "nvarchar",
    "text",
    "tinytext",
    "mediumtext",
    "longtext",
    "citext",
    "name",
    "bpchar",
    "uuid",
    "enum",
    "set",
    "inet",
    "cidr",
    "macaddr",
    "xml",
    "time",
    "timetz",
    "time with time zone",
    "time without time zone",
    "interval",
}
_JSON = {"json", "jsonb"}
_BINARY = {
    "bytea",
    "blob",
    "tinyblob",
    "mediumblob",
    "longblob",
    "binary",
    "varbinary",
    "bit",
    "bit varying",
    "varbit",
}


@dataclass(frozen=True)
class SourceColumn:
    """A column as the database describes it: name, type as written, and array element type."""

    name: str
    type: str
    element_type: str | None = None


@dataclass(frozen=True)
class SourceTable:
    """A table as the database describes it: qualified ``schema.table`` name and its columns."""

    schema: str
    name: str
    columns: tuple[SourceColumn, ...]

    @property
    def qualified(self) -> str:
        """``schema.table``, the name the manifest uses."""
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class MappedType:
    """The XDM side of a column, or why it has none (``xdm`` is None: the column is left out)."""

    xdm: dict[str, Any] | None
    meta_xdm_type: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A table that is not in the manifest, and why."""

    table: str
    reason: str


@dataclass(frozen=True)
class Discovery:
    """The manifest's requests, the tables left out, and notes about columns."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def request_id(base_connection_id: str, table: str) -> str:
    """The stable request id of one table of one base connection."""
    digest = hashlib.sha256(f"{base_connection_id}/{table}".encode()).hexdigest()
    return f"tbl-{digest[:32]}"


def base_type(sql_type: str) -> str:
    """The type's name without size, precision, ``unsigned`` or case: ``VARCHAR(80)`` -> varchar."""
    name = re.sub(r"\(.*\)", "", sql_type.lower())
    name = name.replace("unsigned", "").replace("zerofill", "")
    return " ".join(name.split())


def map_type(sql_type: str, element_type: str | None = None) -> MappedType:
    """The XDM type of a SQL type (``element_type`` for arrays: PostgreSQL's ``ARRAY``)."""
    lowered = sql_type.lower().strip()
    name = base_type(sql_type)
    if name in ("array",) or lowered.endswith("[]"):
        element = element_type or lowered.removesuffix("[]")
        inner = map_type(element)
        if inner.xdm is None or inner.xdm["type"] == "array":
            return MappedType(None, note=f"an array of {element} has no XDM element type")
        return MappedType({"type": "array", "items": inner.xdm})
    if lowered.startswith("tinyint(1)"):  # MySQL's BOOLEAN
        return MappedType({"type": "boolean"})
    if name in _INTEGERS:
        return _integer(name, unsigned="unsigned" in lowered)
    if name in _DOUBLES:
        return MappedType({"type": "number"}, "double")
    if name in _DECIMALS:
        return MappedType({"type": "number"})
    if name in _BOOLEANS:
        return MappedType({"type": "boolean"})
    if name in _DATES:
        return MappedType({"type": "string", "format": "date"}, "date")
    if name in _TIMESTAMPS:
        return MappedType({"type": "string", "format": "date-time"}, "date-time")
    if name in _STRINGS or name in _JSON:
        return MappedType({"type": "string"})
    if name in _BINARY:
        return MappedType(None, note=f"{sql_type} is binary, which XDM cannot hold")
    return MappedType({"type": "string"}, note=f"{sql_type} is not a known type: mapped to string")


def _integer(name: str, *, unsigned: bool) -> MappedType:
    width = _INTEGERS[name]
    if unsigned:  # an unsigned value needs the next wider type
        wider = {"byte": "short", "short": "int", "int": "long", "long": None}[width]
        if wider is None:
            note = "bigint unsigned does not fit a long: mapped to string"
            return MappedType({"type": "string"}, note=note)
        width = wider
    return MappedType({"type": "integer"}, width)


def choose_delta_column(columns: Sequence[tuple[str, MappedType]]) -> str | None:
    """The timestamp column to read new rows by: a known name first, else the first timestamp."""
    stamps = [name for name, mapped in columns if mapped.meta_xdm_type == "date-time"]
    by_lower = {name.lower(): name for name in stamps}
    for preferred in _DELTA_NAMES:
        if preferred in by_lower:
            return by_lower[preferred]
    for name in stamps:
        if _DELTA_PATTERN.search(name.lower()):
            return name
    return stamps[0] if stamps else None


def select_tables(
    tables: Iterable[SourceTable], include: Sequence[str], exclude: Sequence[str]
) -> list[SourceTable]:
    """The tables matching any include glob (all when none) and no exclude glob.

    A glob matches the qualified ``schema.table`` name or the bare table name, case-sensitively.
    """

    def matches(table: SourceTable, globs: Sequence[str]) -> bool:
        return any(fnmatchcase(table.qualified, g) or fnmatchcase(table.name, g) for g in globs)

    return [
        table
        for table in tables
        if (not include or matches(table, include)) and not matches(table, exclude)
    ]


def build_request(
    table: SourceTable, *, connector: str, base_connection_id: str, start_time: int
) -> tuple[dict[str, Any] | None, list[str], str | None]:
    """One table's request ``data``, the notes about its columns, and why it is skipped (if)."""
    mapped = [(column.name, map_type(column.type, column.element_type)) for column in table.columns]
    notes = [f"{table.qualified}.{name}: {m.note}" for name, m in mapped if m.note]
    delta = choose_delta_column(mapped)
    if delta is None:
        return None, notes, "no timestamp column to use as the delta column"
    columns = []
    for column, (name, result) in zip(table.columns, mapped, strict=True):
        if result.xdm is None:
            continue
        entry: dict[str, Any] = {"name": name, "type": column.type, "xdm": result.xdm}
        if result.meta_xdm_type is not None:
            entry["meta_xdm_type"] = result.meta_xdm_type
        columns.append(entry)
    request = {
        "request_id": request_id(base_connection_id, table.qualified),
        "name": table.qualified[:100],
        "source": {
            "connector": connector,
            "base_connection_id": base_connection_id,
            "table": table.qualified,
            "columns": columns,
        },
        "mapping_mode": "auto",
        "delta_column": {"name": delta},
        "schedule": {**DEFAULT_SCHEDULE, "start_time": start_time},
    }
    validate_request(request)  # a discovered request that does not validate is our bug
    return request, notes, None


def discover_tables(
    tables: Iterable[SourceTable], *, connector: str, base_connection_id: str, start_time: int
) -> Discovery:
    """Every table's request, or the reason it is skipped."""
    discovery = Discovery()
    for table in tables:
        request, notes, reason = build_request(
            table, connector=connector, base_connection_id=base_connection_id, start_time=start_time
        )
        discovery.notes.extend(notes)
        if request is None:
            discovery.skipped.append(Skipped(table.qualified, reason or "skipped"))
        else:
            discovery.requests.append(request)
    return discovery


def render_manifest(discovery: Discovery, *, origin: str) -> str:
    """The manifest as YAML: a comment header, ``requests``, then ``skipped`` and ``notes``."""
    header = [
        f"# Onboarding manifest written by `dataflow-worker discover` from {origin}.",
        "# Each request is the data of a DataflowRequested message; onboard it with",
        "# `dataflow-worker onboard FILE`. Tables under `skipped` are not onboarded.",
    ]
    document: dict[str, Any] = {"requests": [_compact(r) for r in discovery.requests]}
    if discovery.skipped:
        document["skipped"] = [{"table": s.table, "reason": s.reason} for s in discovery.skipped]
    if discovery.notes:
        document["notes"] = list(discovery.notes)
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + body


class _Flow(dict[str, Any]):
    """A mapping written on one line (``{name: id, type: bigint, ...}``)."""


class _Dumper(yaml.SafeDumper):
    """Safe YAML with :class:`_Flow` mappings in flow style."""


_Dumper.add_representer(
    _Flow, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, True)
)


def _compact(request: dict[str, Any]) -> dict[str, Any]:
    """The request with one line per column, delta column and schedule, as people write them."""
    source = dict(request["source"])
    source["columns"] = [_Flow(column) for column in source["columns"]]
    return {
        **request,
        "source": source,
        "delta_column": _Flow(request["delta_column"]),
        "schedule": _Flow(request["schedule"]),
    }

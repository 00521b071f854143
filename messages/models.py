"""DataflowRequested, the `data` of a request (contract 2.1), and its parts; events re-exported."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from messages.base import FieldViolation, Frozen, Rule, items, part
from messages.connectors import DEFAULT_DATE_FORMAT, find_connector, unknown_connector_message
from messages.events import (
    STEPS,
    DataflowCreated,
    DataflowFailed,
    DataflowRunCompleted,
    FailureError,
    FailureKind,
    RunError,
    RunRecords,
    Step,
    StepCompleted,
)

__all__ = [
    "PROFILE_CLASS",
    "STEPS",
    "Column",
    "DataflowCreated",
    "DataflowFailed",
    "DataflowRequested",
    "DataflowRunCompleted",
    "DeltaColumn",
    "FailureError",
    "FailureKind",
    "FieldViolation",
    "Mapping",
    "RequestId",
    "RunError",
    "RunRecords",
    "Schedule",
    "Source",
    "Step",
    "StepCompleted",
    "Target",
    "TargetSchema",
    "XdmType",
]

PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
"""The XDM class of a schema the worker creates when the request names none."""

RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
"""The idempotency key of a dataflow: 1-128 characters of `[A-Za-z0-9._:-]`."""

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
XdmPath = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
]
Frequency = Literal["once", "minute", "hour", "day", "week"]
MIN_INTERVAL: dict[str, int] = {"minute": 15, "hour": 1, "day": 1, "week": 1}


def _when(
    condition: dict[str, Any],
    then: dict[str, Any] | None = None,
    otherwise: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON Schema if/then/else on properties: how a cross-field rule reads in the schemas."""
    rule: dict[str, Any] = {"if": {"properties": condition, "required": list(condition)}}
    if then is not None:
        rule["then"] = then
    if otherwise is not None:
        rule["else"] = otherwise
    return rule


def _absent(*names: str) -> dict[str, Any]:
    """A JSON Schema saying these properties are absent (or null)."""
    return {"properties": {name: {"type": "null"} for name in names}}


def _interval_at_least(least: int) -> dict[str, Any]:
    return {
        "required": ["interval"],
        "properties": {"interval": {"type": "integer", "minimum": least}},
    }


class XdmType(Frozen):
    """The XDM type a column maps to: `type`, `format` for strings, `items` for arrays."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _when({"type": {"const": "string"}}, otherwise=_absent("format")),
                _when({"type": {"const": "array"}}, {"required": ["items"]}, _absent("items")),
            ]
        }
    )

    type: Literal["string", "integer", "number", "boolean", "object", "array"]
    format: Literal["date", "date-time"] | None = None
    items: XdmType | None = None

    @classmethod
    def cross_rules(cls, value: Any) -> Iterable[Rule]:
        """A format only on strings; items on arrays and only there."""
        kind = part(value, "type")
        if part(value, "format") is not None and kind not in (None, "string"):
            yield ("format",), f"a format applies to strings only, not to {kind}"
        if kind == "array" and part(value, "items") is None:
            yield ("items",), "an array needs items (the XDM type of its elements)"
        if part(value, "items") is not None and kind not in (None, "array"):
            yield ("items",), f"items apply to arrays only, not to {kind}"


class Column(Frozen):
    """One column of the source table: its database type and the XDM type it maps to."""

    name: NonEmpty
    type: NonEmpty
    xdm: XdmType
    meta_xdm_type: (
        Literal["int", "long", "short", "byte", "double", "date", "date-time", "map"] | None
    ) = None


class Source(Frozen):
    """Where the data comes from: connector, base connection, table and its columns."""

    connector: NonEmpty
    base_connection_id: NonEmpty
    table: NonEmpty
    columns: Annotated[list[Column], Field(min_length=1, max_length=2000)]

    @field_validator("connector")
    @classmethod
    def _known_connector(cls, value: str) -> str:
        if find_connector(value) is None:
            raise ValueError(unknown_connector_message(value))
        return value

    @property
    def connection_spec_id(self) -> str:
        """The connection spec id of the connector, whether it was given by name or by id."""
        found = find_connector(self.connector)
        assert found is not None  # validated on construction
        return found.spec_id

    @property
    def connector_name(self) -> str:
        """The short name of the connector, whether it was given by name or by id."""
        found = find_connector(self.connector)
        assert found is not None  # validated on construction
        return found.name

    @property
    def column_names(self) -> list[str]:
        """The names of the columns, in order."""
        return [column.name for column in self.columns]

    @classmethod
    def cross_rules(cls, value: Any) -> Iterable[Rule]:
        """Column names are unique."""
        seen: set[str] = set()
        for index, column in enumerate(items(part(value, "columns"))):
            name = part(column, "name")
            if isinstance(name, str) and name in seen:
                yield ("columns", index, "name"), f"column {name!r} is listed twice"
            if isinstance(name, str):
                seen.add(name)


class TargetSchema(Frozen):
    """The XDM schema to create: its class, field groups and optional title."""

    class_: NonEmpty = Field(default=PROFILE_CLASS, alias="class")
    field_groups: list[NonEmpty] = Field(default_factory=list)
    title: NonEmpty | None = None


class Target(Frozen):
    """Where the data goes: an existing schema and dataset to reuse, or a schema to create."""

    schema_id: NonEmpty | None = None
    schema_: TargetSchema = Field(default_factory=TargetSchema, alias="schema")
    dataset_id: NonEmpty | None = None

    @classmethod
    def cross_rules(cls, value: Any) -> Iterable[Rule]:
        """An existing schema and a schema to create exclude each other.

        Checked once the target is otherwise valid; a schema equal to the default is no
        schema to create (that is how a target with a schema_id reads back from the wire).
        """
        reuse = isinstance(value, Target) and value.schema_id is not None
        if reuse and value.schema_ != TargetSchema():
            yield ("schema",), "give either schema_id (reuse) or schema (create), not both"


class Mapping(Frozen):
    """One mapping: a column name to an XDM path of the target schema."""

    source: NonEmpty
    destination: XdmPath


class DeltaColumn(Frozen):
    """The column whose timestamp tells new rows from old ones."""

    name: NonEmpty
    date_format: NonEmpty = DEFAULT_DATE_FORMAT
    timezone: NonEmpty = "UTC"


class Schedule(Frozen):
    """When the dataflow runs: once, or every `interval` units of `frequency`."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _when({"frequency": {"const": "once"}}, _absent("interval", "backfill")),
                _when({"frequency": {"const": "minute"}}, _interval_at_least(15)),
                _when({"frequency": {"enum": ["hour", "day", "week"]}}, _interval_at_least(1)),
            ]
        }
    )

    frequency: Frequency
    interval: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    start_time: Annotated[int, Field(ge=0, le=253_402_300_799)]
    backfill: bool | None = None

    @classmethod
    def cross_rules(cls, value: Any) -> Iterable[Rule]:
        """`once` forbids interval and backfill; other frequencies need an interval (minimums)."""
        frequency, interval = part(value, "frequency"), part(value, "interval")
        if frequency == "once":
            if interval is not None:
                yield ("interval",), "a schedule that runs once takes no interval"
            if part(value, "backfill") is not None:
                yield ("backfill",), "a schedule that runs once takes no backfill"
        elif isinstance(frequency, str) and frequency in MIN_INTERVAL:
            least = MIN_INTERVAL[frequency]
            if interval is None:
                yield ("interval",), f"frequency {frequency} needs an interval (>= {least})"
            elif isinstance(interval, int) and 1 <= interval < least:
                yield ("interval",), f"frequency {frequency} needs an interval >= {least}"


class DataflowRequested(Frozen):
    """A request to create one dataflow from a database table into the Platform (contract 2.1)."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _when(
                    {"mapping_mode": {"const": "auto"}},
                    {"properties": {"mappings": {"maxItems": 0}}},
                    {"required": ["mappings"], "properties": {"mappings": {"minItems": 1}}},
                )
            ]
        }
    )

    request_id: RequestId
    sandbox: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,255}$")] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    source: Source
    target: Target = Field(default_factory=Target)
    mappings: list[Mapping] = Field(default_factory=list)
    mapping_mode: Literal["explicit", "auto"] = "explicit"
    delta_column: DeltaColumn
    schedule: Schedule
    flow_spec_name: NonEmpty = "CRMToAEP"
    on_failure: Literal["keep", "rollback"] = "keep"
    follow_runs: bool | None = None

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("the name must be printable characters only")
        return value

    @classmethod
    def cross_rules(cls, value: Any) -> Iterable[Rule]:
        """Mappings and the delta column refer to columns; explicit mode needs mappings."""
        columns = [part(c, "name") for c in items(part(part(value, "source"), "columns"))]
        known = {name for name in columns if isinstance(name, str)}
        listing = ", ".join(repr(n) for n in columns if isinstance(n, str))
        if not known:  # the columns are themselves invalid; that is reported on its own
            return
        yield from _mapping_rules(value, known, listing)
        delta = part(part(value, "delta_column"), "name")
        if isinstance(delta, str) and delta not in known:
            yield ("delta_column", "name"), f"{delta!r} is not a column (columns: {listing})"


def _mapping_rules(value: Any, known: set[str], listing: str) -> Iterator[Rule]:
    """The rules of `mappings`: sources are columns, destinations unique, present when explicit."""
    mappings = items(part(value, "mappings"))
    mode = part(value, "mapping_mode") or "explicit"
    if mode == "explicit" and not mappings and isinstance(part(value, "mappings"), list | None):
        yield ("mappings",), "mappings are required unless mapping_mode is auto"
    if mode == "auto" and mappings:
        yield ("mappings",), "mapping_mode auto generates the mappings; give none"
    destinations: set[str] = set()
    for index, mapping in enumerate(mappings):
        source, destination = part(mapping, "source"), part(mapping, "destination")
        if isinstance(source, str) and source not in known:
            yield (
                ("mappings", index, "source"),
                f"{source!r} is not a column (columns: {listing})",
            )
        if isinstance(destination, str) and destination in destinations:
            yield (
                ("mappings", index, "destination"),
                f"{destination!r} is the destination of an earlier mapping too",
            )
        if isinstance(destination, str):
            destinations.add(destination)

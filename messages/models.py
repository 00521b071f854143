"""The `data` of the commands: DataflowRequested (contract 2.1) with its parts, and
DataflowDeletionRequested (2.4)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, field_validator

from messages.base import Checked, Frozen, Rule, items, part
from messages.connectors import (
    BY_SPEC_ID,
    CONNECTORS,
    DEFAULT_DATE_FORMAT,
    find_connector,
    unknown_connector_message,
)
from messages.rules import (
    REQUEST_SCHEMA_RULES,
    SCHEDULE_SCHEMA_RULES,
    XDM_SCHEMA_RULES,
    column_rules,
    request_rules,
    schedule_rules,
    xdm_rules,
)

__all__ = [
    "PROFILE_CLASS",
    "Column",
    "DataflowDeletionRequested",
    "DataflowRequested",
    "DeltaColumn",
    "Mapping",
    "Reason",
    "RequestId",
    "Revision",
    "Schedule",
    "Source",
    "Target",
    "TargetSchema",
    "XdmType",
]

PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
"""The XDM class of a schema the worker creates when the request names none."""

RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
"""The idempotency key of a dataflow: 1-128 characters of `[A-Za-z0-9._:-]`."""

MAX_REVISION = 2**53 - 1
"""The highest revision: the largest integer every JSON reader holds exactly."""

Revision = Annotated[int, Field(ge=1, le=MAX_REVISION)]
"""The revision of a request: what its producer wants of the dataflow, in order (contract 2.4)."""


def printable(value: str) -> str:
    """The text as it is, if every character is printable (no control characters, no breaks)."""
    if not value.isprintable():
        raise ValueError("must be printable characters only (no control characters or breaks)")
    return value


Reason = Annotated[str, StringConstraints(min_length=1, max_length=1000), AfterValidator(printable)]
"""Free text saying why a dataflow is deleted: 1-1000 printable characters."""

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
XdmPath = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
]
CONNECTOR_CHOICES: list[str] = [*CONNECTORS, *BY_SPEC_ID]
"""What `source.connector` may be: a short name or a connection spec id."""
Frequency = Literal["once", "minute", "hour", "day", "week"]


class XdmType(Checked):
    """The XDM type a column maps to: `type`, `format` for strings, `items` for arrays."""

    model_config = ConfigDict(json_schema_extra=XDM_SCHEMA_RULES)

    type: Literal["string", "integer", "number", "boolean", "object", "array"]
    format: Literal["date", "date-time"] | None = None
    items: XdmType | None = None

    @classmethod
    def cross_rules(cls, value: Any) -> Iterable[Rule]:
        """A format only on strings; items on arrays and only there."""
        has_format, has_items = part(value, "format") is not None, part(value, "items") is not None
        return xdm_rules(part(value, "type"), has_format, has_items)

    def own_rules(self) -> Iterable[Rule]:
        """The same rules, read from the validated fields."""
        if self.type == "string" and self.items is None:  # the common case, cheaply
            return ()
        return xdm_rules(self.type, self.format is not None, self.items is not None)


class Column(Frozen):
    """One column of the source table: its database type and the XDM type it maps to."""

    name: NonEmpty
    type: NonEmpty
    xdm: XdmType
    meta_xdm_type: (
        Literal["int", "long", "short", "byte", "double", "date", "date-time", "map"] | None
    ) = None


class Source(Checked):
    """Where the data comes from: connector, base connection, table and its columns."""

    connector: Annotated[NonEmpty, Field(json_schema_extra={"enum": CONNECTOR_CHOICES})]
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
        return column_rules([part(column, "name") for column in items(part(value, "columns"))])

    def own_rules(self) -> Iterable[Rule]:
        """The same rules, read from the validated fields."""
        return column_rules(self.column_names)


class TargetSchema(Frozen):
    """The XDM schema to create: its class, field groups and optional title."""

    class_: NonEmpty = Field(default=PROFILE_CLASS, alias="class")
    field_groups: list[NonEmpty] = Field(default_factory=list)
    title: NonEmpty | None = None


class Target(Checked):
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


class Schedule(Checked):
    """When the dataflow runs: once, or every `interval` units of `frequency`."""

    model_config = ConfigDict(json_schema_extra=SCHEDULE_SCHEMA_RULES)

    frequency: Frequency
    interval: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    start_time: Annotated[int, Field(ge=0, le=253_402_300_799)]
    backfill: bool | None = None

    @classmethod
    def cross_rules(cls, value: Any) -> Iterable[Rule]:
        """`once` forbids interval and backfill; other frequencies need an interval (minimums)."""
        frequency, interval = part(value, "frequency"), part(value, "interval")
        return schedule_rules(frequency, interval, part(value, "backfill"))


class DataflowRequested(Checked):
    """A request to create one dataflow from a database table into the Platform (contract 2.1).

    A later `revision` of the same `request_id` changes the dataflow (contract 2.4); `enabled`
    is its desired state. Both came with dataschema version 2.
    """

    model_config = ConfigDict(json_schema_extra=REQUEST_SCHEMA_RULES)

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
    revision: Revision = 1
    enabled: bool = True

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
        given = part(value, "mappings")
        mappings = (
            [(part(m, "source"), part(m, "destination")) for m in given]
            if isinstance(given, list | tuple)
            else ([] if given is None else None)
        )
        delta = part(part(value, "delta_column"), "name")
        return request_rules(columns, delta, mappings, part(value, "mapping_mode"))

    def own_rules(self) -> Iterable[Rule]:
        """The same rules, read from the validated fields."""
        mappings = [(m.source, m.destination) for m in self.mappings]
        columns = self.source.column_names
        return request_rules(columns, self.delta_column.name, mappings, self.mapping_mode)


class DataflowDeletionRequested(Frozen):
    """A request to delete the dataflow of a `request_id` and what its request created.

    What the request supplied is never deleted, nor what another dataflow still uses (contract
    2.4); `reason` is logged and echoed in `DataflowDeleted`.
    """

    request_id: RequestId
    reason: Reason | None = None

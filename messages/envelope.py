"""The CloudEvents 1.0 envelope: one typed event class per message type, commands and events."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self, TypeAlias, get_args

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from messages.base import Checked, Rule, part, rule_errors
from messages.events import (
    DataflowCreated,
    DataflowDeleted,
    DataflowFailed,
    DataflowRunCompleted,
    DataflowUpdated,
    StepCompleted,
    utc,
)
from messages.models import DataflowDeletionRequested, DataflowRequested
from messages.rules import when
from messages.versions import (
    ADDED_IN,
    DATASCHEMA_PREFIX,
    VERSIONS,
    dataschema_for,
    dataschema_rules,
    newest,
    upgraded,
    version_rules,
)

CommandType = Literal["DataflowRequested", "DataflowDeletionRequested"]
"""The `type` of a command: what producers send the worker (contract 2)."""

PublishedType = Literal[
    "StepCompleted",
    "DataflowCreated",
    "DataflowUpdated",
    "DataflowDeleted",
    "DataflowFailed",
    "DataflowRunCompleted",
]
"""The `type` of an event the worker publishes (contract 2.3)."""

EventType = Literal[CommandType, PublishedType]
"""The `type` of any message, command or event (contract 2)."""

EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
"""Every message type, commands first."""

COMMAND_TYPES: tuple[CommandType, ...] = get_args(CommandType)
"""The types the worker consumes from its requests queue."""

PUBLISHED_TYPES: tuple[PublishedType, ...] = get_args(PublishedType)
"""The types the worker publishes to its events exchange."""

TERMINAL_TYPES: tuple[PublishedType, ...] = (
    "DataflowCreated",
    "DataflowUpdated",
    "DataflowDeleted",
    "DataflowFailed",
)
"""The events that end a request, a revision or a deletion: exactly one each (contract 2.3)."""

Command: TypeAlias = DataflowRequested | DataflowDeletionRequested
"""The `data` of a command."""

Payload: TypeAlias = (
    Command
    | StepCompleted
    | DataflowCreated
    | DataflowUpdated
    | DataflowDeleted
    | DataflowFailed
    | DataflowRunCompleted
)
"""The `data` of any event."""

PayloadClass: TypeAlias = type[Payload]

PAYLOADS: dict[str, type[Payload]] = {
    "DataflowRequested": DataflowRequested,
    "DataflowDeletionRequested": DataflowDeletionRequested,
    "StepCompleted": StepCompleted,
    "DataflowCreated": DataflowCreated,
    "DataflowUpdated": DataflowUpdated,
    "DataflowDeleted": DataflowDeleted,
    "DataflowFailed": DataflowFailed,
    "DataflowRunCompleted": DataflowRunCompleted,
}
"""The payload model of each event type."""

_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_ATTRIBUTES = frozenset(
    {"specversion", "id", "source", "type", "time", "subject", "datacontenttype"}
    | {"dataschema", "data"}
)


def _event_schema_rules(schema: dict[str, Any], model: type[Any]) -> None:
    """State the dataschema versions and extension attribute names in an event's JSON Schema."""
    schema["propertyNames"] = {
        "anyOf": [{"enum": sorted(_ATTRIBUTES)}, {"pattern": "^[a-z0-9]{1,20}$"}]
    }
    payload = getattr(model, "payload_type", None)
    if payload is not None:
        name = payload.__name__
        versions = "|".join(str(v) for v in VERSIONS[name])
        pattern = {"type": "string", "pattern": f"^{DATASCHEMA_PREFIX}{name}:({versions})$"}
        schema["properties"]["dataschema"] = {"anyOf": [pattern, {"type": "null"}], "default": None}
        if older := _older_version_rules(name):
            schema["allOf"] = older


def _older_version_rules(event_type: str) -> list[dict[str, Any]]:
    """JSON Schema rules: `data` of an older version carries no field a later version added."""
    rules = []
    for version in VERSIONS[event_type]:
        later = [name for name, added in ADDED_IN.get(event_type, {}).items() if added > version]
        if later:
            named = {"dataschema": {"const": dataschema_for(event_type, version)}}
            absent = {"not": {"anyOf": [{"required": [name]} for name in later]}}
            rules.append(when(named, {"properties": {"data": absent}}))
    return rules


class Event(Checked):
    """A CloudEvents 1.0 event in structured mode, with `data` typed by `type`.

    Extension attributes (lowercase alphanumeric names) are kept; `data` follows the payload
    model of the event's type, and `dataschema` (absent means the newest) names a known version.
    Data of an older version is read as the newest (`messages.versions`).
    """

    model_config = ConfigDict(frozen=True, extra="allow", json_schema_extra=_event_schema_rules)

    specversion: Literal["1.0"] = "1.0"
    id: Annotated[str, Field(min_length=1, max_length=256)]
    source: Annotated[str, Field(min_length=1, max_length=2048)]
    type: EventType
    time: AwareDatetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    data: Payload

    payload_type: ClassVar[PayloadClass | None] = None

    @field_validator("time", mode="before")
    @classmethod
    def _rfc3339(cls, value: Any) -> Any:
        if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.match(value)):
            return value
        raise ValueError("time must be an RFC 3339 timestamp such as 2026-11-29T07:00:00Z")

    @field_validator("time")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return utc(value)

    @model_validator(mode="wrap")
    @classmethod
    def _read_older_versions(cls, value: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Read older data as the newest; refuse fields newer than the version named.

        Fields newer than the version are checked on the raw input, since a validated payload
        cannot tell a given field from a default; when validation fails for other reasons,
        `cross_rules` reports them with the rest.
        """
        event = handler(upgraded(value))
        if isinstance(value, dict):
            raw = (value.get("type"), value.get("dataschema"), value.get("data"))
            if broken := list(version_rules(*raw)):
                raise ValidationError.from_exception_data(cls.__name__, rule_errors(broken))
        return event

    @property
    def version(self) -> int:
        """The dataschema version of `data` (the newest when the event names none)."""
        if self.dataschema is None:
            return newest(self.type)
        return int(self.dataschema.rsplit(":", 1)[1])

    @classmethod
    def cross_rules(cls, value: Any) -> Iterable[Rule]:
        """The dataschema fits the type and its data; extension names follow CloudEvents."""
        event_type, dataschema = part(value, "type"), part(value, "dataschema")
        yield from dataschema_rules(event_type, dataschema)
        yield from version_rules(event_type, dataschema, part(value, "data"))
        extra = value.keys() if isinstance(value, dict) else (part(value, "model_extra") or {})
        for name in extra:
            if name not in _ATTRIBUTES and not (
                isinstance(name, str) and _EXTENSION_NAME.match(name)
            ):
                yield (
                    (str(name),),
                    "not a CloudEvents attribute (extension names are [a-z0-9]{1,20})",
                )


class RequestedEvent(Event):
    """An event whose data is a DataflowRequested."""

    type: Literal["DataflowRequested"]
    data: DataflowRequested
    payload_type: ClassVar[PayloadClass | None] = DataflowRequested


class DeletionRequestedEvent(Event):
    """An event whose data is a DataflowDeletionRequested."""

    type: Literal["DataflowDeletionRequested"]
    data: DataflowDeletionRequested
    payload_type: ClassVar[PayloadClass | None] = DataflowDeletionRequested


class StepCompletedEvent(Event):
    """An event whose data is a StepCompleted."""

    type: Literal["StepCompleted"]
    data: StepCompleted
    payload_type: ClassVar[PayloadClass | None] = StepCompleted


class CreatedEvent(Event):
    """An event whose data is a DataflowCreated."""

    type: Literal["DataflowCreated"]
    data: DataflowCreated
    payload_type: ClassVar[PayloadClass | None] = DataflowCreated


class UpdatedEvent(Event):
    """An event whose data is a DataflowUpdated."""

    type: Literal["DataflowUpdated"]
    data: DataflowUpdated
    payload_type: ClassVar[PayloadClass | None] = DataflowUpdated


class DeletedEvent(Event):
    """An event whose data is a DataflowDeleted."""

    type: Literal["DataflowDeleted"]
    data: DataflowDeleted
    payload_type: ClassVar[PayloadClass | None] = DataflowDeleted


class FailedEvent(Event):
    """An event whose data is a DataflowFailed."""

    type: Literal["DataflowFailed"]
    data: DataflowFailed
    payload_type: ClassVar[PayloadClass | None] = DataflowFailed


class RunCompletedEvent(Event):
    """An event whose data is a DataflowRunCompleted."""

    type: Literal["DataflowRunCompleted"]
    data: DataflowRunCompleted
    payload_type: ClassVar[PayloadClass | None] = DataflowRunCompleted


CommandEvent: TypeAlias = RequestedEvent | DeletionRequestedEvent
"""An event whose data is a command."""

EVENT_CLASSES: dict[str, type[Event]] = {
    "DataflowRequested": RequestedEvent,
    "DataflowDeletionRequested": DeletionRequestedEvent,
    "StepCompleted": StepCompletedEvent,
    "DataflowCreated": CreatedEvent,
    "DataflowUpdated": UpdatedEvent,
    "DataflowDeleted": DeletedEvent,
    "DataflowFailed": FailedEvent,
    "DataflowRunCompleted": RunCompletedEvent,
}
"""The event class of each type: the one place a `type` picks its model."""

AnyEvent = Annotated[
    RequestedEvent
    | DeletionRequestedEvent
    | StepCompletedEvent
    | CreatedEvent
    | UpdatedEvent
    | DeletedEvent
    | FailedEvent
    | RunCompletedEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)
"""Validates any event in one pass, choosing the data model by `type`."""

"""The CloudEvents 1.0 envelope: one typed event class per message type, dataschema versions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, TypeAlias, get_args

from pydantic import AwareDatetime, ConfigDict, Field, TypeAdapter, field_validator

from messages.base import Checked, Rule, part
from messages.events import (
    DataflowCreated,
    DataflowFailed,
    DataflowRunCompleted,
    StepCompleted,
    utc,
)
from messages.models import DataflowRequested

EventType = Literal[
    "DataflowRequested",
    "StepCompleted",
    "DataflowCreated",
    "DataflowFailed",
    "DataflowRunCompleted",
]
"""The `type` of an event (contract 2)."""

EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
"""Every event type."""

Payload: TypeAlias = (
    DataflowRequested | StepCompleted | DataflowCreated | DataflowFailed | DataflowRunCompleted
)
"""The `data` of any event."""

PayloadClass: TypeAlias = type[Payload]

PAYLOADS: dict[str, type[Payload]] = {
    "DataflowRequested": DataflowRequested,
    "StepCompleted": StepCompleted,
    "DataflowCreated": DataflowCreated,
    "DataflowFailed": DataflowFailed,
    "DataflowRunCompleted": DataflowRunCompleted,
}
"""The payload model of each event type."""

VERSIONS: dict[str, tuple[int, ...]] = {name: (1,) for name in EVENT_TYPES}
"""The `dataschema` versions of each type that this package reads; the last one is written."""

DATASCHEMA_PREFIX = "urn:dataflow-worker:"
_DATASCHEMA = re.compile(r"^urn:dataflow-worker:([A-Za-z]+):([0-9]{1,9})$")
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_ATTRIBUTES = frozenset(
    {"specversion", "id", "source", "type", "time", "subject", "datacontenttype"}
    | {"dataschema", "data"}
)


def dataschema_for(event_type: str, version: int | None = None) -> str:
    """The dataschema URN of a type at a version (the current one by default)."""
    return f"{DATASCHEMA_PREFIX}{event_type}:{version or VERSIONS[event_type][-1]}"


def dataschema_rules(event_type: Any, dataschema: Any) -> Iterable[Rule]:
    """Whether a dataschema names the event's type at a version this package reads."""
    if dataschema is None or not isinstance(dataschema, str):
        return
    match = _DATASCHEMA.match(dataschema)
    if match is None:
        yield ("dataschema",), f"dataschema must be {DATASCHEMA_PREFIX}<type>:<version>"
    elif isinstance(event_type, str) and match.group(1) != event_type:
        yield ("dataschema",), f"dataschema names type {match.group(1)}, the event is {event_type}"
    elif isinstance(event_type, str) and event_type in VERSIONS:
        known = VERSIONS[event_type]
        if int(match.group(2)) not in known:
            listed = ", ".join(str(v) for v in known)
            yield (
                ("dataschema",),
                f"unknown dataschema version {match.group(2)} of {event_type} "
                f"(this worker reads version {listed})",
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


class Event(Checked):
    """A CloudEvents 1.0 event in structured mode, with `data` typed by `type`.

    Extension attributes (lowercase alphanumeric names) are kept; `data` follows the payload
    model of the event's type, and `dataschema` (absent means version 1) names a known version.
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

    @property
    def version(self) -> int:
        """The dataschema version of `data` (1 when the event names none)."""
        if self.dataschema is None:
            return 1
        return int(self.dataschema.rsplit(":", 1)[1])

    @classmethod
    def cross_rules(cls, value: Any) -> Iterable[Rule]:
        """The dataschema fits the type; extension attribute names follow CloudEvents."""
        yield from dataschema_rules(part(value, "type"), part(value, "dataschema"))
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


EVENT_CLASSES: dict[str, type[Event]] = {
    "DataflowRequested": RequestedEvent,
    "StepCompleted": StepCompletedEvent,
    "DataflowCreated": CreatedEvent,
    "DataflowFailed": FailedEvent,
    "DataflowRunCompleted": RunCompletedEvent,
}
"""The event class of each type."""

AnyEvent = Annotated[
    RequestedEvent | StepCompletedEvent | CreatedEvent | FailedEvent | RunCompletedEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)
"""Validates any event in one pass, choosing the data model by `type`."""

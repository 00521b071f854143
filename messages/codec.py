"""Bytes on the wire to typed events and back; the one invalid-message error; canonical content."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any, cast, overload

from pydantic import ValidationError
from pydantic_core import ErrorDetails, from_json

from messages.base import FieldViolation, violations, violations_from
from messages.envelope import (
    COMMAND_TYPES,
    EVENT_ADAPTER,
    EVENT_CLASSES,
    EVENT_TYPES,
    CommandEvent,
    CreatedEvent,
    DeletedEvent,
    DeletionRequestedEvent,
    Event,
    EventType,
    FailedEvent,
    Payload,
    RequestedEvent,
    RunCompletedEvent,
    StepCompletedEvent,
    UpdatedEvent,
)
from messages.events import (
    DataflowCreated,
    DataflowDeleted,
    DataflowFailed,
    DataflowRunCompleted,
    DataflowUpdated,
    StepCompleted,
)
from messages.models import DataflowDeletionRequested, DataflowRequested
from messages.versions import dataschema_for, dataschema_rules

_SHOWN = 5  # violations spelled out in the error's one-line message


class InvalidMessageError(ValueError):
    """A message that cannot be read: every violation with its field path, and what was read.

    `event_id`, `event_type` and `request_id` are whatever could be read from the message (None
    where nothing could), so a DataflowFailed can still name the request.
    """

    def __init__(
        self,
        summary: str,
        fields: list[FieldViolation],
        *,
        event_id: str | None = None,
        event_type: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.summary = summary
        self.fields = fields
        self.event_id = event_id
        self.event_type = event_type
        self.request_id = request_id
        super().__init__(_one_line(summary, fields))


def _one_line(summary: str, fields: list[FieldViolation]) -> str:
    """The summary followed by the first violations, on one line."""
    if not fields:
        return summary
    shown = "; ".join(f"{v.path}: {v.message}" for v in fields[:_SHOWN])
    more = f"; and {len(fields) - _SHOWN} more" if len(fields) > _SHOWN else ""
    return f"{summary}: {shown}{more}"


def decode(body: bytes | bytearray | str, *, max_bytes: int | None = None) -> Event:
    """Read one message body as a typed event; raise InvalidMessageError, and nothing else.

    A body longer than ``max_bytes`` is refused before it is parsed.
    """
    if max_bytes is not None:
        check_size(body, max_bytes)
    try:
        return EVENT_ADAPTER.validate_json(body)
    except ValidationError as exc:
        raise _explain(body, exc) from None
    except (ValueError, TypeError, RecursionError) as exc:  # defensive: the parser's own limits
        raise InvalidMessageError("the body cannot be read", [_whole(str(exc))]) from None


def decode_command(body: bytes | bytearray | str, *, max_bytes: int | None = None) -> CommandEvent:
    """Read a message from the requests queue: a command, or InvalidMessageError saying why not.

    A readable event of another type (an event sent to the requests queue) is invalid too, with
    one violation at `type`.
    """
    event = decode(body, max_bytes=max_bytes)
    if isinstance(event, RequestedEvent | DeletionRequestedEvent):
        return event
    commands = ", ".join(COMMAND_TYPES)
    raise InvalidMessageError(
        f"expected a command ({commands}), got {event.type}",
        [FieldViolation(path="type", message=f"{event.type} is not a command; one of {commands}")],
        event_id=event.id,
        event_type=event.type,
        request_id=getattr(event.data, "request_id", None),
    )


def check_size(body: bytes | bytearray | str, max_bytes: int) -> None:
    """Refuse a body longer than ``max_bytes`` (UTF-8 bytes), saying its size and the limit."""
    size = len(body.encode()) if isinstance(body, str) else len(body)
    if size > max_bytes:
        message = f"the message is {size} bytes, over the limit of {max_bytes} bytes"
        raise InvalidMessageError(message, [_whole(f"{size} bytes; at most {max_bytes}")])


def encode(event: Event) -> bytes:
    """Write an event as the JSON body of a message (absent optional attributes left out)."""
    exclude = {name for name in ("subject", "dataschema") if getattr(event, name) is None}
    return event.model_dump_json(by_alias=True, exclude=exclude).encode()


@overload
def new_event(
    payload: DataflowRequested, *, source: str, id: str | None = ..., time: datetime | None = ...
) -> RequestedEvent: ...
@overload
def new_event(
    payload: DataflowDeletionRequested,
    *,
    source: str,
    id: str | None = ...,
    time: datetime | None = ...,
) -> DeletionRequestedEvent: ...
@overload
def new_event(
    payload: StepCompleted, *, source: str, id: str | None = ..., time: datetime | None = ...
) -> StepCompletedEvent: ...
@overload
def new_event(
    payload: DataflowCreated, *, source: str, id: str | None = ..., time: datetime | None = ...
) -> CreatedEvent: ...
@overload
def new_event(
    payload: DataflowUpdated, *, source: str, id: str | None = ..., time: datetime | None = ...
) -> UpdatedEvent: ...
@overload
def new_event(
    payload: DataflowDeleted, *, source: str, id: str | None = ..., time: datetime | None = ...
) -> DeletedEvent: ...
@overload
def new_event(
    payload: DataflowFailed, *, source: str, id: str | None = ..., time: datetime | None = ...
) -> FailedEvent: ...
@overload
def new_event(
    payload: DataflowRunCompleted, *, source: str, id: str | None = ..., time: datetime | None = ...
) -> RunCompletedEvent: ...
def new_event(
    payload: Payload, *, source: str, id: str | None = None, time: datetime | None = None
) -> Event:
    """Wrap a payload in an envelope: a fresh id, now (UTC), its type, subject and dataschema.

    The payload is a validated model of the newest version, and every attribute is made here to
    the envelope's rules, so nothing is validated again (the worker builds eight events per
    dataflow; validating each cost more than encoding it). ``time`` must be timezone-aware.
    """
    event_type = cast(EventType, type(payload).__name__)  # the payload classes are named so
    when = time or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("an event's time must be timezone-aware")
    return EVENT_CLASSES[event_type].model_construct(
        id=id or str(uuid.uuid4()),
        source=source,
        type=event_type,
        time=when.astimezone(UTC),
        subject=payload.request_id,
        dataschema=dataschema_for(event_type),
        data=payload,
    )


def validate_request(data: Any) -> DataflowRequested:
    """Validate the `data` of a request given as Python objects; paths are relative to `data`."""
    try:
        return DataflowRequested.model_validate(data)
    except ValidationError as exc:
        fields = violations(DataflowRequested, data, exc)
        request_id = data.get("request_id") if isinstance(data, dict) else None
        raise InvalidMessageError(
            "invalid DataflowRequested",
            fields,
            event_type="DataflowRequested",
            request_id=request_id if isinstance(request_id, str) else None,
        ) from None


def canonical_content(request: DataflowRequested) -> bytes:
    """The request's `data` after defaults as canonical JSON: sorted keys, no spaces, UTF-8.

    `revision` is left out (the worker compares revisions on their own), and `enabled` is in
    only when it is false. Why: content hashes that earlier versions of the worker recorded in
    existing ledgers, from requests of dataschema version 1, must still match the same request,
    so a version 1 request and its version 2 twin with revision 1 and enabled true have the
    same canonical content (and two revisions of the same data have the same content).
    """
    left_out = {"revision"} if not request.enabled else {"revision", "enabled"}
    data = request.model_dump(mode="json", by_alias=True, exclude=left_out)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(request: DataflowRequested) -> str:
    """The SHA-256 hex digest of the request's canonical content: equal content, equal hash."""
    return hash_of(canonical_content(request))


def hash_of(canonical: bytes) -> str:
    """The content hash of canonical content (``content_hash`` when it is already at hand)."""
    return hashlib.sha256(canonical).hexdigest()


def _whole(message: str) -> FieldViolation:
    return FieldViolation(path="$", message=message)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _explain(body: bytes | bytearray | str, exc: ValidationError) -> InvalidMessageError:
    """Say why a body is not a valid event, with every violation and whatever could be read."""
    try:
        raw = from_json(body)
    except ValueError as error:
        return InvalidMessageError("the body is not JSON", [_whole(str(error))])
    if not isinstance(raw, dict):
        return InvalidMessageError("the body is not a CloudEvent", [_whole("expected an object")])
    data = raw.get("data")
    read = {
        "event_id": _text(raw.get("id")),
        "event_type": _text(raw.get("type")),
        "request_id": _text(data.get("request_id")) if isinstance(data, dict) else None,
    }
    event_type = read["event_type"]
    if "specversion" not in raw:
        summary = "the body is not a CloudEvent (no specversion)"
    elif event_type in EVENT_TYPES:
        unknown_version = any(True for _ in dataschema_rules(event_type, raw.get("dataschema")))
        summary = (
            f"unsupported dataschema of {event_type}"
            if unknown_version
            else f"invalid {event_type}"
        )
    else:
        summary = "unknown event type" if "type" in raw else "the event has no type"
    if event_type in EVENT_TYPES:
        fields = violations(EVENT_CLASSES[event_type], raw, exc, skip=_is_tag_error, strip=1)
    else:
        fields = _envelope_violations(raw)
    return InvalidMessageError(summary, fields, **read)


def _is_tag_error(detail: ErrorDetails) -> bool:
    return detail["type"] in ("union_tag_invalid", "union_tag_not_found")


def _envelope_violations(raw: dict[str, Any]) -> list[FieldViolation]:
    """Every violation of an event whose type is missing or unknown, its data aside."""
    given = raw.get("type")
    known = ", ".join(EVENT_TYPES)
    if given is None:
        first = FieldViolation(path="type", message=f"missing; one of {known}")
    else:
        first = FieldViolation(path="type", message=f"unknown type {given!r}; one of {known}")
    probe = {**raw, "type": "DataflowRequested", "data": None, "dataschema": None}
    try:
        RequestedEvent.model_validate(probe)
    except ValidationError as exc:
        rest = violations_from(exc, skip=lambda d: d["loc"][:1] in (("data",), ("type",)))
        return [first, *rest]
    return [first]

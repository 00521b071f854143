"""Commands made ready to publish: validated, encoded, and published with confirms.

Shared by ``publish``, ``onboard``, ``dlq replay``, ``delete``, ``enable``/``disable`` and the
demo: every request is validated before anything is sent, and a request id repeated with other
content in one file is invalid. Each command is published with its type's routing key.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from messages import (
    CommandEvent,
    CommandType,
    DataflowRequested,
    FieldViolation,
    InvalidMessageError,
    content_hash,
    decode,
    encode,
    new_event,
    validate_request,
)
from worker.config import BrokerTarget
from worker.onboarding.manifest import ManifestItem


@dataclass(frozen=True)
class Prepared:
    """A valid command, encoded as the message body to publish.

    ``request``: the ``DataflowRequested`` it carries (None for a deletion), so a plan can
    compare its content with the ledger's and publish it as another revision.
    """

    location: str
    request_id: str
    event_id: str
    body: bytes
    event_type: CommandType = "DataflowRequested"
    request: DataflowRequested | None = None


def prepared_event(event: CommandEvent, location: str) -> Prepared:
    """A command's event, encoded, ready to publish."""
    request = event.data if isinstance(event.data, DataflowRequested) else None
    data = event.data
    return Prepared(location, data.request_id, event.id, encode(event), event.type, request)


@dataclass(frozen=True)
class Invalid:
    """A request that must not be published, with every violation as ``path: message``."""

    location: str
    request_id: str | None
    violations: tuple[str, ...]

    def line(self) -> str:
        """One line for people: where, which request, and what is wrong."""
        who = f" {self.request_id}" if self.request_id else ""
        return f"invalid {self.location}{who}: {'; '.join(self.violations)}"


def worker_source(host: str | None = None) -> str:
    """The CloudEvents ``source`` of messages the worker and its commands create."""
    return f"urn:dataflow-worker:{host or socket.gethostname()}"


def prepare(items: Iterable[ManifestItem], *, source: str) -> tuple[list[Prepared], list[Invalid]]:
    """Validate and encode every item; a request id repeated with other content is invalid."""
    prepared: list[Prepared] = []
    invalid: list[Invalid] = []
    seen: dict[str, tuple[str, str]] = {}  # request id -> (content hash, location)
    for item in items:
        try:
            ready, digest = _prepare_one(item, source)
        except InvalidMessageError as error:
            violations = tuple(f"{v.path}: {v.message}" for v in error.fields) or (error.summary,)
            invalid.append(Invalid(item.location, item.request_id, violations))
            continue
        first = seen.setdefault(ready.request_id, (digest, item.location))
        if first[0] != digest:
            message = f"request_id: repeated with other content (first at {first[1]})"
            invalid.append(Invalid(item.location, ready.request_id, (message,)))
            continue
        prepared.append(ready)
    return prepared, invalid


def _prepare_one(item: ManifestItem, source: str) -> tuple[Prepared, str]:
    if item.is_event:
        body = json.dumps(item.payload, ensure_ascii=False).encode()
        event = decode(body)
        if not isinstance(event.data, DataflowRequested):
            wrong = FieldViolation(path="type", message=f"{event.type} is not a request")
            raise InvalidMessageError("not a request", [wrong])
        request = event.data
        ready = Prepared(item.location, request.request_id, event.id, body, request=request)
        return ready, content_hash(request)
    request = validate_request(item.payload)
    return prepared_event(new_event(request, source=source), item.location), content_hash(request)


class RequestSink(Protocol):
    """Where prepared requests go: the publisher, or anything with its ``publish_request``."""

    def publish_request(
        self, body: bytes, *, event_id: str, request_id: str | None, event_type: str = ...
    ) -> None:
        """Publish one command (a ``DataflowRequested`` unless ``event_type`` says otherwise)
        and return once the broker confirmed it."""


def publish_all(
    sink: RequestSink,
    prepared: Iterable[Prepared],
    on_published: Callable[[Prepared], None] | None = None,
) -> int:
    """Publish each request with confirms, in order; return how many were confirmed."""
    count = 0
    for request in prepared:
        sink.publish_request(
            request.body,
            event_id=request.event_id,
            request_id=request.request_id,
            event_type=request.event_type,
        )
        count += 1
        if on_published is not None:
            on_published(request)
    return count


def publish_requests(
    target: BrokerTarget,
    prefix: str,
    prepared: Sequence[Prepared],
    on_published: Callable[[Prepared], None] | None = None,
) -> int:
    """Declare the topology, then publish with confirms (the CLI, ``dlq``, the demo, tests)."""
    from worker.broker.publisher import Publisher  # kombu loads only when something is published
    from worker.broker.topology import Topology

    publisher = Publisher(target, Topology(prefix))
    try:
        publisher.start()
        return publish_all(publisher, prepared, on_published)
    finally:
        publisher.close()

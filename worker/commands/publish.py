"""``dataflow-worker publish FILE``: validate requests from a file, then publish them with confirms.

Every request is validated before anything is sent. When any is invalid, each is reported with
its field paths and *nothing* is published (exit 1), so fixing the file and running again is the
whole recovery; ``--skip-invalid`` publishes the valid ones anyway (still exit 1). An unreadable
file is exit 2. ``data`` objects are wrapped in a new CloudEvent from
``urn:dataflow-worker:<host>``; whole CloudEvents are sent as they are, with their own id.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import click

from messages import (
    DataflowRequested,
    FieldViolation,
    InvalidMessageError,
    content_hash,
    decode,
    encode,
    new_event,
    validate_request,
)
from worker.config import load_settings
from worker.manifest import ManifestItem, read_manifest


@dataclass(frozen=True)
class Prepared:
    """A valid request, encoded as the message body to publish."""

    location: str
    request_id: str
    event_id: str
    body: bytes


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
        return Prepared(item.location, request.request_id, event.id, body), content_hash(request)
    request = validate_request(item.payload)
    event = new_event(request, source=source)
    prepared = Prepared(item.location, request.request_id, event.id, encode(event))
    return prepared, content_hash(request)


class RequestSink(Protocol):
    """Where prepared requests go: the publisher, or anything with its ``publish_request``."""

    def publish_request(self, body: bytes, *, event_id: str, request_id: str | None) -> None:
        """Publish one request and return once the broker confirmed it."""


def publish_all(
    sink: RequestSink,
    prepared: Iterable[Prepared],
    on_published: Callable[[Prepared], None] | None = None,
) -> int:
    """Publish each request with confirms, in order; return how many were confirmed."""
    count = 0
    for request in prepared:
        sink.publish_request(request.body, event_id=request.event_id, request_id=request.request_id)
        count += 1
        if on_published is not None:
            on_published(request)
    return count


def publish_requests(
    broker_url: str,
    prefix: str,
    prepared: Sequence[Prepared],
    on_published: Callable[[Prepared], None] | None = None,
) -> int:
    """Declare the topology, then publish with confirms (the CLI, ``dlq``, the demo, tests)."""
    from worker.publisher import Publisher  # kombu loads only when something is published
    from worker.topology import Topology

    publisher = Publisher(broker_url, Topology(prefix))
    try:
        publisher.start()
        return publish_all(publisher, prepared, on_published)
    finally:
        publisher.close()


@click.command()
@click.argument("file", type=str)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Publish the valid requests even when some are invalid (the exit code is still 1).",
)
@click.option("--dry-run", is_flag=True, help="Validate and report; publish nothing.")
def publish(file: str, skip_invalid: bool, dry_run: bool) -> None:
    """Publish DataflowRequested messages from FILE (JSON, JSON-lines or YAML; - for stdin).

    FILE holds DataflowRequested data objects, which are wrapped in new CloudEvents, or whole
    CloudEvents, which are sent as they are. The topology is declared first and every publish
    is confirmed by the broker. Each request is validated first: when any is invalid, all
    invalid ones are listed with their field paths and nothing is published (exit 1) unless
    --skip-invalid is given. Exit 2 when FILE cannot be read.
    """
    prepared, invalid = prepare(read_manifest(file), source=worker_source())
    for problem in invalid:
        click.echo(problem.line(), err=True)
    if dry_run or (invalid and not skip_invalid):
        verb = "valid" if dry_run else "not published (fix the invalid ones or --skip-invalid)"
        click.echo(f"{len(prepared)} requests {verb}, {len(invalid)} invalid")
        if invalid:
            raise SystemExit(1)
        return
    settings = load_settings()
    publish_requests(settings.broker_url, settings.topology_prefix, prepared, _echo_published)
    click.echo(f"{len(prepared)} requests published, {len(invalid)} invalid")
    if invalid:
        raise SystemExit(1)


def _echo_published(request: Prepared) -> None:
    click.echo(f"published {request.request_id} (event {request.event_id}, {request.location})")

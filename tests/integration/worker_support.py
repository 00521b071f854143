"""Helpers for the worker's integration tests: an in-process worker against the emulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.testing import Emulator
from messages import DataflowRequested, encode, new_event
from tests.integration.harness import delete_topology, unique
from worker.app import Parts, Worker
from worker.broker.publisher import Outgoing, Publisher
from worker.broker.topology import REQUESTED_KEY, Topology
from worker.config import BrokerTarget, Settings, load_settings


def worker_settings(
    broker_url: str, emulator: Emulator, state_url: str, prefix: str, **overrides: Any
) -> Settings:
    """Settings of an in-process worker talking to `emulator` with its own topology prefix."""
    values: dict[str, Any] = {
        "broker_url": broker_url,
        "state_url": state_url,
        "platform_url": emulator.url,
        "ims_url": emulator.url,
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "org_id": emulator.org,
        "topology_prefix": prefix,
        "concurrency": 4,
        "drain_seconds": 5,
        "metrics_addr": "127.0.0.1:0",
        "http_timeout_seconds": 10,
    }
    values.update(overrides)
    return load_settings(environ={}, **values)


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """The URL of a fresh PostgreSQL schema on the server at `base`, dropped afterwards."""
    import psycopg

    schema = f"worker_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def sqlite_url(directory: Path) -> str:
    """A fresh SQLite ledger in `directory`."""
    return f"sqlite:///{directory / 'state.db'}"


@contextmanager
def running_worker(settings: Settings, parts: Parts | None = None) -> Iterator[Worker]:
    """A started in-process worker, stopped (drained) afterwards."""
    worker = Worker(settings, parts)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(drain_seconds=5)


@contextmanager
def topology_prefix(broker_url: str) -> Iterator[str]:
    """A unique topology prefix whose queues and exchanges are deleted afterwards."""
    prefix = unique("tw")
    try:
        yield prefix
    finally:
        delete_topology(broker_url, prefix)


@contextmanager
def request_publisher(broker_url: str, prefix: str) -> Iterator[Publisher]:
    """A publisher (with confirms) on the test's topology."""
    publisher = Publisher(BrokerTarget(broker_url), Topology(prefix))
    publisher.start()
    try:
        yield publisher
    finally:
        publisher.close()


def publish_request(
    publisher: Publisher, data: dict[str, Any], *, event_id: str | None = None
) -> str:
    """Publish one request built from its `data`; return the event id."""
    event = new_event(DataflowRequested.model_validate(data), source="urn:test", id=event_id)
    publisher.publish_request(encode(event), event_id=event.id, request_id=data["request_id"])
    return event.id


def publish_raw(publisher: Publisher, body: bytes, message_id: str) -> None:
    """Publish any bytes to the requests queue (for invalid messages)."""
    publisher.publish(
        Outgoing(
            body=body,
            exchange=publisher.topology.commands_exchange,
            routing_key=REQUESTED_KEY,
            message_id=message_id,
            mandatory=True,
        )
    )


def queue_depth(broker_url: str, name: str) -> int:
    """How many messages wait in a queue."""
    from kombu import Connection

    with Connection(broker_url) as connection:
        channel = connection.channel()
        return int(channel.queue_declare(queue=name, passive=True).message_count)


@dataclass(frozen=True)
class Taken:
    """A message removed from a queue: its body as bytes, its headers, routing key and type."""

    body: bytes
    headers: dict[str, Any]
    routing_key: str = ""
    type: str | None = None


def take_all(broker_url: str, name: str) -> list[Taken]:
    """Remove and return every message of a queue."""
    from kombu import Connection

    taken: list[Taken] = []
    with Connection(broker_url) as connection:
        channel = connection.channel()
        while True:
            message = channel.basic_get(name, no_ack=True)
            if message is None:
                return taken
            body = message.body.encode() if isinstance(message.body, str) else message.body
            routing_key = str(message.delivery_info.get("routing_key", ""))
            message_type = message.properties.get("type")
            taken.append(Taken(body, dict(message.headers or {}), routing_key, message_type))

"""Test doubles for the engine: a Platform in a dict, and an engine wired to kombu's memory://.

The ledger is the real SQLite one and the publisher the real one on kombu's in-process transport,
so the engine's tests exercise everything but the network.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kombu import Connection, Exchange, Queue
from prometheus_client import CollectorRegistry

from messages import DataflowRequested, encode, new_event
from tests.integration.samples import sample_request
from worker.broker.consumer import Delivery
from worker.broker.delay import BrokerDelay
from worker.broker.publisher import Publisher
from worker.broker.reporter import Reporter
from worker.broker.topology import Topology
from worker.config import BrokerTarget
from worker.core.retry import RetryPolicy
from worker.core.steps import Step
from worker.engine.breaker import Breaker
from worker.engine.engine import Engine, EngineConfig
from worker.engine.execution import RequestContext
from worker.errors import NotFoundError, OutcomeUnknownError, PlatformError
from worker.ledger import Ledger, open_ledger
from worker.observability.metrics import Metrics

MEMORY = "memory://"


@dataclass
class FakeActions:
    """The Platform as a dict: creates, finds by name, deletes; scripted failures per step."""

    made: dict[str, dict[str, str]] = field(default_factory=dict)  # step -> name -> id
    failures: dict[Step, list[PlatformError]] = field(default_factory=dict)
    applied_then_lost: set[Step] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    reuse_failure: PlatformError | None = None
    flow_runs: list[dict[str, Any]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def name(self, step: Step, context: RequestContext) -> str | None:
        """Names like the contract's; mapping sets have none."""
        if step is Step.MAPPING_SET:
            return None
        return f"{context.request.name} ({step.value}) [{context.request.request_id}]"

    def reuse(self, step: Step, context: RequestContext) -> str:
        """The flow spec, or a supplied id."""
        self.calls.append(("reuse", step.value))
        if self.reuse_failure is not None:
            raise self.reuse_failure
        return "flow-spec-1" if step is Step.FLOW_SPEC else f"supplied-{step.value}"

    def create(self, step: Step, context: RequestContext, name: str | None) -> str:
        """Create, or raise the next scripted failure."""
        self.calls.append(("create", step.value))
        scripted = self.failures.get(step)
        if scripted:
            raise scripted.pop(0)
        resource_id = f"{step.value}-{next(self._ids)}"
        self.made.setdefault(step.value, {})[name or resource_id] = resource_id
        if step in self.applied_then_lost:
            self.applied_then_lost.discard(step)
            raise OutcomeUnknownError("connection dropped after the body was sent")
        return resource_id

    def find(self, step: Step, context: RequestContext, name: str | None) -> str | None:
        """The id of the resource called `name`."""
        self.calls.append(("find", step.value))
        return self.made.get(step.value, {}).get(name) if name is not None else None

    def delete(self, step: Step, context: RequestContext, resource_id: str) -> None:
        """Forget a resource."""
        self.calls.append(("delete", step.value))
        names = self.made.get(step.value, {})
        for name, known in list(names.items()):
            if known == resource_id:
                del names[name]
                self.deleted.append(step.value)
                return
        raise NotFoundError("gone", status=404)

    def runs(self, context: RequestContext, flow_id: str) -> list[dict[str, Any]]:
        """The scripted runs of the flow."""
        self.calls.append(("runs", flow_id))
        return list(self.flow_runs)

    def count(self, kind: str, step: Step) -> int:
        """How many calls of one kind a step made."""
        return self.calls.count((kind, step.value))


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    """An engine and everything around it, with helpers to read what it published."""

    engine: Engine
    ledger: Ledger
    actions: FakeActions
    breaker: Breaker
    metrics: Metrics
    topology: Topology
    clock: Clock
    connection: Connection

    def events(self) -> list[dict[str, Any]]:
        """Every event published so far (drained from the test's bound queue)."""
        return [_json(m) for m in self._take(f"{self.topology.prefix}.test-events")]

    def parked(self) -> list[Any]:
        """Every message in the parking lot."""
        return self._take(self.topology.dead_queue)

    def delayed(self) -> list[Any]:
        """Every copy waiting in any delay tier."""
        copies: list[Any] = []
        for tier in self.topology.tiers:
            copies.extend(self._take(self.topology.retry_queue(tier)))
        return copies

    def _take(self, queue: str) -> list[Any]:
        channel = self.connection.default_channel
        taken = []
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            taken.append(message)
        return taken


def _json(message: Any) -> dict[str, Any]:
    import json

    return dict(json.loads(message.body))


def request(request_id: str = "crm-1", **changes: Any) -> DataflowRequested:
    """A valid request."""
    return DataflowRequested.model_validate(sample_request(request_id, "base-1", **changes))


def delivery(payload: DataflowRequested, *, event_id: str | None = None, **fields: Any) -> Delivery:
    """A delivery of one request, as the consumer hands it over."""
    event = new_event(payload, source="urn:test", id=event_id)
    return Delivery(body=encode(event), message_id=event.id, **fields)


def from_message(message: Any) -> Delivery:
    """A delivery of a message taken from a queue (a delayed copy)."""
    body = message.body if isinstance(message.body, bytes) else message.body.encode()
    return Delivery(
        body=body,
        headers=dict(message.headers or {}),
        message_id=message.properties.get("message_id"),
    )


@contextmanager
def rig(
    tmp_path: Path, *, threshold: int = 3, max_attempts: int = 3, **config: Any
) -> Iterator[Rig]:
    """An engine on a SQLite ledger and kombu's memory transport, with a fake Platform."""
    topology = Topology(f"u{uuid.uuid4().hex[:8]}")
    ledger = open_ledger(f"sqlite:///{tmp_path / 'state.db'}")
    publisher = Publisher(BrokerTarget(MEMORY), topology)
    publisher.start()
    connection = Connection(MEMORY)
    events = Queue(
        f"{topology.prefix}.test-events",
        exchange=Exchange(topology.events_exchange, type="topic"),
        routing_key="#",
    )
    events.bind(connection.default_channel).declare()
    clock = Clock()
    metrics = Metrics(CollectorRegistry())
    breaker = Breaker(threshold=threshold)
    actions = FakeActions()
    engine = Engine(
        config=EngineConfig(
            owner="test-worker",
            source="urn:dataflow-worker:test",
            policy=RetryPolicy(max_attempts=max_attempts),
            **config,
        ),
        ledger=ledger,
        actions=actions,
        reporter=Reporter(publisher, source="urn:dataflow-worker:test", metrics=metrics),
        delay=BrokerDelay(publisher),
        breaker=breaker,
        metrics=metrics,
        clock=clock,
        jitter=lambda: 0.5,
    )
    try:
        yield Rig(engine, ledger, actions, breaker, metrics, topology, clock, connection)
    finally:
        publisher.close()
        connection.release()
        ledger.close()

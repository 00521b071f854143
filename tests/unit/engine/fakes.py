"""Test doubles for the engine: a Platform in a dict, and a broker link that keeps what it is sent.

The ledger is the real SQLite one; the engine runs on an event loop of the rig's own, so tests
read like the blocking code they exercise (``r.handle(delivery)``). What the broker link would do
with a settle (store a delayed copy or a parked copy, then ack) is done here on lists, so tests
can take the copies and deliver them again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from messages import DataflowRequested, encode, new_event
from tests.integration.samples import sample_request
from worker.broker.publisher import Outgoing
from worker.broker.reporter import Reporter
from worker.broker.topology import Topology
from worker.core.delivery import Delivery, copy_headers
from worker.core.record import StepOutcome
from worker.core.retry import RetryPolicy
from worker.core.steps import Step
from worker.engine.actions import RequestContext
from worker.engine.breaker import Breaker
from worker.engine.engine import Engine, EngineConfig
from worker.engine.telemetry import Telemetry
from worker.engine.tools import Tools
from worker.errors import InUseError, NotFoundError, OutcomeUnknownError, PlatformError
from worker.ledger import Ledger, open_ledger
from worker.observability.metrics import Metrics


@dataclass
class FakeActions:
    """The Platform as a dict: creates, finds by name, deletes; scripted failures per step."""

    made: dict[str, dict[str, str]] = field(default_factory=dict)  # step -> name -> id
    failures: dict[Step, list[BaseException]] = field(default_factory=dict)
    applied_then_lost: set[Step] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    reuse_failure: PlatformError | None = None
    flow_runs: list[dict[str, Any]] = field(default_factory=list)
    in_use: set[str] = field(default_factory=set)  # resource ids whose deletion is refused
    flow_states: dict[str, bool] = field(default_factory=dict)  # flow id -> enabled
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    known_flow_spec: bool = False  # answer the flow spec without a call, as a warm cache does

    def known(self, step: Step, context: RequestContext) -> str | None:
        """The flow spec when ``known_flow_spec``, as a cache that holds it answers."""
        return "flow-spec-1" if self.known_flow_spec and step is Step.FLOW_SPEC else None

    async def reuse(self, step: Step, context: RequestContext) -> str:
        """The flow spec, or a supplied id."""
        self.calls.append(("reuse", step.value))
        if self.reuse_failure is not None:
            raise self.reuse_failure
        return "flow-spec-1" if step is Step.FLOW_SPEC else f"supplied-{step.value}"

    async def create(self, step: Step, context: RequestContext, name: str | None) -> str:
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

    async def find(self, step: Step, context: RequestContext, name: str | None) -> str | None:
        """The id of the resource called `name` (mapping sets: the only one made)."""
        self.calls.append(("find", step.value))
        made = self.made.get(step.value, {})
        if name is None:
            return next(iter(made.values()), None)
        return made.get(name)

    async def delete(self, step: Step, context: RequestContext, resource_id: str) -> None:
        """Forget a resource (refused for those ``in_use``)."""
        self.calls.append(("delete", step.value))
        scripted = self.failures.get(step)
        if scripted:
            raise scripted.pop(0)
        if resource_id in self.in_use:
            raise InUseError(f"{resource_id} is in use", status=400)
        names = self.made.get(step.value, {})
        for name, known in list(names.items()):
            if known == resource_id:
                del names[name]
                self.deleted.append(step.value)
                return
        raise NotFoundError("gone", status=404)

    async def update(
        self, step: Step, context: RequestContext, resource_id: str | None
    ) -> tuple[str, StepOutcome]:
        """Patch the flow (nothing to change here), or set its state."""
        self.calls.append(("update", step.value))
        scripted = self.failures.get(step)
        if scripted:
            raise scripted.pop(0)
        if step is Step.FLOW_STATE:
            flow_id = context.resources[Step.DATAFLOW.value]
            self.flow_states[flow_id] = context.request.enabled
            return flow_id, "enabled" if context.request.enabled else "disabled"
        assert resource_id is not None
        return resource_id, "updated"

    async def runs(self, context: RequestContext, flow_id: str) -> list[dict[str, Any]]:
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


class KeptLink:
    """The broker link's publishing side, keeping every message (each confirmed at once)."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.sent: list[Outgoing] = []

    def publish(self, message: Outgoing) -> asyncio.Future[None]:
        """Keep the message; confirmed."""
        self.sent.append(message)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


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
    link: KeptLink
    loop: asyncio.AbstractEventLoop
    copies: list[Delivery] = field(default_factory=list)
    parked_copies: list[Delivery] = field(default_factory=list)

    def handle(self, delivery: Delivery) -> str:
        """Run one delivery; do what the link would with its settle; return ack or requeue."""
        settle = self.loop.run_until_complete(self.engine.handle(delivery))
        copy = Delivery(
            body=delivery.body,
            headers=copy_headers(delivery.headers, settle.headers),
            message_id=delivery.message_id,
        )
        if settle.action == "delay":
            self.copies.append(copy)
        elif settle.action == "park":
            self.parked_copies.append(copy)
        return "requeue" if settle.action == "requeue" else "ack"

    def events(self) -> list[dict[str, Any]]:
        """Every event published since the last call."""
        sent, self.link.sent = self.link.sent, []
        return [json.loads(m.body) for m in sent if m.exchange == self.topology.events_exchange]

    def parked(self) -> list[Delivery]:
        """Every message sent to the parking lot since the last call."""
        parked, self.parked_copies = self.parked_copies, []
        return parked

    def delayed(self) -> list[Delivery]:
        """Every copy waiting to come back, taken."""
        copies, self.copies = self.copies, []
        return copies


def request(request_id: str = "crm-1", **changes: Any) -> DataflowRequested:
    """A valid request."""
    return DataflowRequested.model_validate(sample_request(request_id, "base-1", **changes))


def delivery(payload: DataflowRequested, *, event_id: str | None = None, **fields: Any) -> Delivery:
    """A delivery of one request, as the broker link hands it over."""
    event = new_event(payload, source="urn:test", id=event_id)
    return Delivery(body=encode(event), message_id=event.id, **fields)


@contextmanager
def rig(
    tmp_path: Path, *, threshold: int = 3, max_attempts: int = 3, **config: Any
) -> Iterator[Rig]:
    """An engine on a SQLite ledger, with a fake Platform and a link that keeps messages."""
    topology = Topology(f"u{uuid.uuid4().hex[:8]}")
    ledger = open_ledger(f"sqlite:///{tmp_path / 'state.db'}")
    clock = Clock()
    metrics = Metrics(CollectorRegistry())
    breaker = Breaker(threshold=threshold)
    actions = FakeActions()
    link = KeptLink(topology)
    tools = Tools(
        ledger=ledger,
        actions=actions,
        reporter=Reporter(link, source="urn:dataflow-worker:test", metrics=metrics),
        breaker=breaker,
        telemetry=Telemetry(metrics, clock),
        clock=clock,
        jitter=lambda: 0.5,
    )
    engine = Engine(
        config=EngineConfig(
            owner="test-worker", policy=RetryPolicy(max_attempts=max_attempts), **config
        ),
        tools=tools,
    )
    loop = asyncio.new_event_loop()
    try:
        yield Rig(engine, ledger, actions, breaker, metrics, topology, clock, link, loop)
    finally:
        loop.close()
        ledger.close()

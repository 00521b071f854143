"""Exchanges, queues and bindings of contract section 3, as data, and their declaration.

Retry delays wait in per-tier TTL queues (`<prefix>.retry.<n>s`, tiers of `worker.core.retry`) that
dead-letter back to the requests queue through the default exchange (docs/adr/0006). Every argument
here is fixed: a queue redeclared with other arguments fails with PRECONDITION_FAILED, so
tunables belong in broker policies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kombu import Exchange, Queue, binding

from worker.core.retry import DELAY_TIERS, delay_tier

# The broker's own poison backstop: far above the worker's ledger-counted poison limit, so
# crashes and connection cuts never park a healthy message (RabbitMQ 3.10 counts every return).
DELIVERY_LIMIT = 100

REQUESTED_KEY = "dataflow.requested"
DELETION_REQUESTED_KEY = "dataflow.deletion_requested"
COMMAND_KEYS: dict[str, str] = {
    "DataflowRequested": REQUESTED_KEY,
    "DataflowDeletionRequested": DELETION_REQUESTED_KEY,
}
"""The routing key of each command on the commands exchange; the requests queue binds them all."""

EVENT_KEYS: dict[str, str] = {
    "StepCompleted": "dataflow.step_completed",
    "DataflowCreated": "dataflow.created",
    "DataflowUpdated": "dataflow.updated",
    "DataflowDeleted": "dataflow.deleted",
    "DataflowFailed": "dataflow.failed",
    "DataflowRunCompleted": "dataflow.run_completed",
}
"""The routing key of each event on the events exchange."""


def routing_key(message_type: str) -> str:
    """The routing key a message of this type is published with (contract section 3)."""
    key = COMMAND_KEYS.get(message_type) or EVENT_KEYS.get(message_type)
    if key is None:
        raise ValueError(f"no routing key for message type {message_type!r}")
    return key


@dataclass(frozen=True)
class Topology:
    """The names of every broker entity for one prefix (default `dataflow`)."""

    prefix: str = "dataflow"
    tiers: tuple[int, ...] = DELAY_TIERS

    @property
    def commands_exchange(self) -> str:
        """The topic exchange producers publish requests to."""
        return f"{self.prefix}.commands"

    @property
    def events_exchange(self) -> str:
        """The topic exchange the worker publishes events to."""
        return f"{self.prefix}.events"

    @property
    def requests_queue(self) -> str:
        """The quorum queue the worker consumes."""
        return f"{self.prefix}.requests"

    @property
    def dead_queue(self) -> str:
        """The parking lot."""
        return f"{self.prefix}.dead"

    def retry_queue(self, seconds: int) -> str:
        """The delay queue of one tier."""
        return f"{self.prefix}.retry.{seconds}s"

    def tier_for(self, delay_seconds: float) -> int:
        """The shortest tier not shorter than the delay (the longest beyond it)."""
        return delay_tier(delay_seconds)

    def requests_arguments(self) -> dict[str, Any]:
        """Arguments of the requests queue: quorum, parking-lot dead-lettering, a backstop."""
        return {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.dead_queue,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            "x-delivery-limit": DELIVERY_LIMIT,
        }

    def retry_arguments(self, seconds: int) -> dict[str, Any]:
        """Arguments of one delay queue: expire after the tier, then back to the requests."""
        return {
            "x-message-ttl": seconds * 1000,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.requests_queue,
        }

    def entity_names(self) -> list[str]:
        """Every queue and exchange name, for tests that clean up after themselves."""
        queues = [self.requests_queue, self.dead_queue, *map(self.retry_queue, self.tiers)]
        return [self.commands_exchange, self.events_exchange, *queues]


def exchanges(topology: Topology) -> tuple[Exchange, Exchange]:
    """The commands and events exchanges (topic, durable)."""
    return (
        Exchange(topology.commands_exchange, type="topic", durable=True),
        Exchange(topology.events_exchange, type="topic", durable=True),
    )


def requests_queue(topology: Topology) -> Queue:
    """The requests queue, bound to the commands exchange with every command's routing key.

    Bindings are additive: declaring this on a topology that has only some of them adds the
    rest and leaves the queue, its arguments and its messages as they are.
    """
    commands, _ = exchanges(topology)
    return Queue(
        topology.requests_queue,
        bindings=[binding(commands, routing_key=key) for key in COMMAND_KEYS.values()],
        durable=True,
        queue_arguments=topology.requests_arguments(),
    )


def dead_queue(topology: Topology) -> Queue:
    """The parking lot (durable, classic)."""
    return Queue(topology.dead_queue, durable=True, no_declare=False)


def retry_queues(topology: Topology) -> list[Queue]:
    """One delay queue per tier, unbound: the worker publishes to them by name."""
    return [
        Queue(
            topology.retry_queue(seconds),
            durable=True,
            queue_arguments=topology.retry_arguments(seconds),
        )
        for seconds in topology.tiers
    ]


def all_entities(topology: Topology, *, delay_queues: bool = True) -> Sequence[Any]:
    """Everything to declare, exchanges first; delay queues only on a real broker."""
    entities: list[Any] = [*exchanges(topology), requests_queue(topology), dead_queue(topology)]
    if delay_queues:
        entities.extend(retry_queues(topology))
    return entities


def declare(channel: Any, topology: Topology, *, delay_queues: bool = True) -> None:
    """Declare the whole topology on a channel; declaring twice is harmless."""
    for entity in all_entities(topology, delay_queues=delay_queues):
        entity.bind(channel).declare()

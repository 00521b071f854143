"""What the topology of one prefix holds on the broker, and removing it (``topology delete``).

Every exchange and queue of :class:`~worker.broker.topology.Topology` is looked at with a passive
declare, which creates nothing: one that does not exist is reported as absent. Deleting removes
the queues (with the messages they hold) and the exchanges; it refuses while a queue has
consumers, since a running worker would declare everything again at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from worker.broker import connection as broker
from worker.broker.topology import Topology
from worker.config import BrokerTarget
from worker.errors import DataflowError


@dataclass(frozen=True)
class Entity:
    """One exchange or queue of a topology as the broker holds it now."""

    name: str
    kind: Literal["exchange", "queue"]
    exists: bool
    messages: int = 0
    consumers: int = 0


class TopologyInUseError(DataflowError):
    """A queue of the topology has consumers: the workers of that prefix still run."""


def entities(topology: Topology) -> list[tuple[str, Literal["exchange", "queue"]]]:
    """Every name of the topology with its kind, queues first (they hold the messages)."""
    exchanges = (topology.commands_exchange, topology.events_exchange)
    return [
        *((name, "queue") for name in topology.entity_names() if name not in exchanges),
        *((name, "exchange") for name in exchanges),
    ]


def in_use(found: Sequence[Entity]) -> list[Entity]:
    """The queues that have consumers."""
    return [entity for entity in found if entity.consumers]


@contextmanager
def _connection(target: BrokerTarget, action: str) -> Iterator[Any]:
    """A connection on which every error (but the 404s `_probe` expects) becomes ours."""
    with broker.opened(target, action) as connection, broker.broker_errors(action):
        yield connection


class Inventory:
    """The topology of one prefix on a broker."""

    def __init__(self, target: BrokerTarget, topology: Topology) -> None:
        self._target = target
        self._topology = topology

    def look(self) -> list[Entity]:
        """Every exchange and queue of the prefix, present or not, with message counts."""
        with _connection(self._target, "reading the topology") as connection:
            return [self._probe(connection, name, kind) for name, kind in entities(self._topology)]

    def delete(self) -> list[Entity]:
        """Delete every present queue and exchange; return what was deleted (as it was)."""
        with _connection(self._target, "deleting the topology") as connection:
            found = [self._probe(connection, name, kind) for name, kind in entities(self._topology)]
            busy = in_use(found)
            if busy:
                names = ", ".join(f"{e.name} (consumers: {e.consumers})" for e in busy)
                raise TopologyInUseError(
                    f"{names}: stop the workers of prefix {self._topology.prefix!r} first"
                )
            present = [entity for entity in found if entity.exists]
            channel = connection.channel()
            for entity in present:
                if entity.kind == "queue":
                    channel.queue_delete(entity.name)
                else:
                    channel.exchange_delete(entity.name)
            return present

    @staticmethod
    def _probe(connection: Any, name: str, kind: Literal["exchange", "queue"]) -> Entity:
        """One entity, by passive declare on a channel of its own (a 404 closes the channel)."""
        channel = connection.channel()
        try:
            if kind == "exchange":
                channel.exchange_declare(name, "topic", passive=True)
                return Entity(name, kind, exists=True)
            _, messages, consumers = channel.queue_declare(name, passive=True)
            return Entity(name, kind, exists=True, messages=messages, consumers=consumers)
        except connection.channel_errors as error:
            if broker.is_missing(error):
                return Entity(name, kind, exists=False)
            raise
        finally:
            channel.close()

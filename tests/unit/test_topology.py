"""Broker topology as data: names per prefix, queue arguments, delay tiers."""

from __future__ import annotations

import pytest

from messages import EVENT_TYPES
from worker.broker.topology import (
    DELIVERY_LIMIT,
    EVENT_KEYS,
    Topology,
    all_entities,
    requests_queue,
    routing_key,
)


def test_every_name_derives_from_the_prefix() -> None:
    names = Topology("acme")
    assert (
        names.commands_exchange,
        names.events_exchange,
        names.requests_queue,
        names.dead_queue,
        names.retry_queue(4),
    ) == ("acme.commands", "acme.events", "acme.requests", "acme.dead", "acme.retry.4s")


def test_the_requests_queue_is_quorum_dead_lettering_to_the_parking_lot_with_a_backstop() -> None:
    assert Topology("acme").requests_arguments() == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "acme.dead",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-delivery-limit": DELIVERY_LIMIT,
    }


def test_a_delay_queue_expires_into_the_requests_queue() -> None:
    assert Topology("acme").retry_arguments(8) == {
        "x-message-ttl": 8000,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "acme.requests",
    }


@pytest.mark.parametrize(
    ("delay", "tier"),
    [(0.0, 1), (0.4, 1), (1.0, 1), (1.5, 2), (3.0, 4), (100.0, 128), (5000.0, 1024)],
)
def test_a_delay_waits_in_the_shortest_tier_that_is_not_shorter(delay: float, tier: int) -> None:
    assert Topology().tier_for(delay) == tier


def test_the_delay_queues_are_left_out_where_the_transport_cannot_expire_messages() -> None:
    names = Topology("acme")
    with_delays = {entity.name for entity in all_entities(names)}
    without = {entity.name for entity in all_entities(names, delay_queues=False)}
    assert with_delays - without == {names.retry_queue(tier) for tier in names.tiers}
    assert without == {"acme.commands", "acme.events", "acme.requests", "acme.dead"}


def test_events_have_the_routing_keys_of_the_contract() -> None:
    assert EVENT_KEYS == {
        "StepCompleted": "dataflow.step_completed",
        "DataflowCreated": "dataflow.created",
        "DataflowUpdated": "dataflow.updated",
        "DataflowDeleted": "dataflow.deleted",
        "DataflowFailed": "dataflow.failed",
        "DataflowRunCompleted": "dataflow.run_completed",
    }


@pytest.mark.parametrize(
    ("message_type", "key"),
    [
        ("DataflowRequested", "dataflow.requested"),
        ("DataflowDeletionRequested", "dataflow.deletion_requested"),
        ("DataflowUpdated", "dataflow.updated"),
        ("DataflowFailed", "dataflow.failed"),
    ],
)
def test_a_message_is_routed_by_its_type(message_type: str, key: str) -> None:
    assert routing_key(message_type) == key


def test_every_message_type_has_a_routing_key_and_no_other_type_has_one() -> None:
    assert len({routing_key(message_type) for message_type in EVENT_TYPES}) == len(EVENT_TYPES)
    with pytest.raises(ValueError, match="no routing key for message type 'Nope'"):
        routing_key("Nope")


def test_the_requests_queue_is_bound_to_the_commands_exchange_with_both_command_keys() -> None:
    queue = requests_queue(Topology("acme"))
    bound = {(b.exchange.name, b.routing_key) for b in queue.bindings}
    assert bound == {
        ("acme.commands", "dataflow.requested"),
        ("acme.commands", "dataflow.deletion_requested"),
    }

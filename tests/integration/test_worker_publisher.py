"""The publisher on a real RabbitMQ: confirmed publishes, routed by type, unroutable refused."""

from __future__ import annotations

import pytest
from kombu import Connection, Producer, Queue

from tests.integration.worker_support import (
    queue_depth,
    request_publisher,
    take_all,
    topology_prefix,
)
from worker.broker.publisher import Outgoing
from worker.broker.topology import Topology, exchanges
from worker.errors import BrokerError

pytestmark = pytest.mark.integration


def test_a_confirmed_request_waits_in_the_requests_queue(rabbitmq_url: str) -> None:
    with topology_prefix(rabbitmq_url) as prefix, request_publisher(rabbitmq_url, prefix) as p:
        p.publish_request(b"{}", event_id="e-1", request_id="r-1")
        assert queue_depth(rabbitmq_url, f"{prefix}.requests") == 1


def test_a_mandatory_message_no_queue_takes_is_a_broker_error_not_a_silent_loss(
    rabbitmq_url: str,
) -> None:
    with topology_prefix(rabbitmq_url) as prefix, request_publisher(rabbitmq_url, prefix) as p:
        nowhere = Outgoing(body=b"{}", exchange="", routing_key=f"{prefix}.nowhere", mandatory=True)
        with pytest.raises(BrokerError, match="returned"):
            p.publish(nowhere)
        p.publish_request(b"{}", event_id="e-2", request_id="r-2")  # still usable afterwards
        assert queue_depth(rabbitmq_url, f"{prefix}.requests") == 1


def test_declaring_the_topology_twice_is_harmless(rabbitmq_url: str) -> None:
    with topology_prefix(rabbitmq_url) as prefix:
        with request_publisher(rabbitmq_url, prefix) as first:
            first.publish_request(b"{}", event_id="e-3", request_id="r-3")
        with request_publisher(rabbitmq_url, prefix) as second:
            second.publish_request(b"{}", event_id="e-4", request_id="r-4")
        assert queue_depth(rabbitmq_url, f"{prefix}.requests") == 2


def test_a_deletion_request_is_routed_by_its_type_to_the_requests_queue(
    rabbitmq_url: str,
) -> None:
    with topology_prefix(rabbitmq_url) as prefix, request_publisher(rabbitmq_url, prefix) as p:
        p.publish_request(
            b"{}", event_id="e-5", request_id="r-5", event_type="DataflowDeletionRequested"
        )
        taken = take_all(rabbitmq_url, f"{prefix}.requests")
    assert [(message.routing_key, message.type) for message in taken] == [
        ("dataflow.deletion_requested", "DataflowDeletionRequested")
    ]


def test_declaring_the_topology_over_one_without_the_deletion_binding_adds_it_and_keeps_messages(
    rabbitmq_url: str,
) -> None:
    with topology_prefix(rabbitmq_url) as prefix:
        older = Topology(prefix)
        with Connection(rabbitmq_url) as connection:  # the topology as earlier versions declared it
            channel = connection.channel()
            commands, _ = exchanges(older)
            commands.bind(channel).declare()
            Queue(
                older.requests_queue,
                exchange=commands,
                routing_key="dataflow.requested",
                durable=True,
                queue_arguments=older.requests_arguments(),
            ).bind(channel).declare()
            Producer(channel).publish(
                b"{}", exchange=commands, routing_key="dataflow.requested", delivery_mode=2
            )
        with request_publisher(rabbitmq_url, prefix) as p:  # declares the topology of now
            p.publish_request(
                b"{}", event_id="e-6", request_id="r-6", event_type="DataflowDeletionRequested"
            )
            p.publish_request(b"{}", event_id="e-7", request_id="r-7")
        assert queue_depth(rabbitmq_url, f"{prefix}.requests") == 3

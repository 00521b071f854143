"""The publisher on a real RabbitMQ: confirmed publishes, and unroutable ones refused."""

from __future__ import annotations

import pytest

from tests.integration.worker_support import queue_depth, request_publisher, topology_prefix
from worker.broker.publisher import Outgoing
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

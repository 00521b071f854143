"""The broker link on a real RabbitMQ: pipelined confirms, deliveries, settles, lost connections."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from kombu import Connection

from tests.integration.harness import delete_topology, unique
from tests.integration.tcp_proxy import CuttableProxy
from worker.broker.link import BrokerLink, Token
from worker.broker.publisher import Outgoing
from worker.broker.topology import REQUESTED_KEY, Topology
from worker.config import BrokerTarget
from worker.core.delivery import ACK, REQUEUE, Delivery, delay, park
from worker.errors import BrokerError

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(rabbitmq_url: str) -> Iterator[str]:
    """A topology prefix of this test's own, deleted afterwards."""
    name = unique("link")
    yield name
    delete_topology(rabbitmq_url, name)


class Inbox:
    """Deliveries the link handed over, in order."""

    def __init__(self) -> None:
        self.items: list[tuple[Delivery, Token]] = []
        self.arrived = asyncio.Event()

    def __call__(self, delivery: Delivery, token: Token) -> None:
        self.items.append((delivery, token))
        self.arrived.set()

    async def wait_for(self, count: int, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                self.arrived.clear()
                await self.arrived.wait()


@asynccontextmanager
async def link(url: str, prefix: str, prefetch: int = 8) -> AsyncIterator[tuple[BrokerLink, Inbox]]:
    inbox = Inbox()
    broker = BrokerLink(BrokerTarget(url), Topology(prefix), prefetch=prefetch, on_delivery=inbox)
    await broker.start()
    try:
        yield broker, inbox
    finally:
        await broker.close()


def request(prefix: str, body: bytes, *, message_id: str = "m-1", **headers: Any) -> Outgoing:
    return Outgoing(
        body=body,
        exchange=f"{prefix}.commands",
        routing_key=REQUESTED_KEY,
        message_id=message_id,
        type="DataflowRequested",
        headers=headers,
        mandatory=True,
    )


def queued(url: str, queue: str) -> list[Any]:
    """Take every message of a queue (to look at what the link stored)."""
    taken = []
    with Connection(url) as connection:
        channel = connection.channel()
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            taken.append(message)
    return taken


def settles_to_empty(url: str, queue: str) -> bool:
    """True once the queue holds nothing (acks to a quorum queue are applied asynchronously)."""
    with Connection(url) as connection:
        channel = connection.channel()
        for _ in range(50):
            if channel.queue_declare(queue=queue, passive=True).message_count == 0:
                return True
            time.sleep(0.1)
    return False


def test_many_publishes_are_confirmed_together_and_delivered(
    rabbitmq_url: str, prefix: str
) -> None:
    async def scenario() -> None:
        async with link(rabbitmq_url, prefix, prefetch=50) as (broker, inbox):
            futures = [
                broker.publish(request(prefix, f"m{n}".encode(), message_id=f"m-{n}"))
                for n in range(200)
            ]
            await asyncio.gather(*futures)
            await inbox.wait_for(50)
            await asyncio.sleep(0.2)
            assert len(inbox.items) == 50  # prefetch bounds what is taken and not settled
            settled = 0
            while settled < 200:
                await inbox.wait_for(settled + 1)
                for delivery, token in inbox.items[settled:]:
                    await broker.settle(token, delivery, ACK)
                    settled += 1
            bodies = {delivery.body for delivery, _ in inbox.items}
            assert bodies == {f"m{n}".encode() for n in range(200)}

    asyncio.run(scenario())
    assert settles_to_empty(rabbitmq_url, f"{prefix}.requests")


def test_an_unroutable_mandatory_publish_fails_and_the_others_are_confirmed(
    rabbitmq_url: str, prefix: str
) -> None:
    async def scenario() -> None:
        async with link(rabbitmq_url, prefix) as (broker, _):
            good = broker.publish(request(prefix, b"ok"))
            lost = broker.publish(
                Outgoing(body=b"x", exchange="", routing_key=f"{prefix}.nowhere", mandatory=True)
            )
            after = broker.publish(request(prefix, b"after", message_id="m-2"))
            await good
            with pytest.raises(BrokerError, match="returned"):
                await lost
            await after

    asyncio.run(scenario())


def test_a_delayed_delivery_is_stored_in_its_tier_and_a_parked_one_in_the_lot(
    rabbitmq_url: str, prefix: str
) -> None:
    async def scenario() -> None:
        async with link(rabbitmq_url, prefix) as (broker, inbox):
            await broker.publish(request(prefix, b"one", message_id="m-1", traceparent="t-1"))
            await broker.publish(request(prefix, b"two", message_id="m-2"))
            await inbox.wait_for(2)
            (first, first_token), (second, second_token) = inbox.items
            await broker.settle(first_token, first, delay(30, "retry"))
            await broker.settle(second_token, second, park("rejected", "400", "crm-1"))

    asyncio.run(scenario())
    [copy] = queued(rabbitmq_url, f"{prefix}.retry.32s")
    assert copy.body in (b"one", "one")
    assert copy.headers["x-dataflow-copy"] == "retry"
    assert copy.headers["traceparent"] == "t-1"
    assert copy.properties["message_id"] == "m-1"
    [parked] = queued(rabbitmq_url, f"{prefix}.dead")
    assert parked.body in (b"two", "two")
    assert parked.headers["x-dataflow-reason"] == "rejected"
    assert queued(rabbitmq_url, f"{prefix}.requests") == []


def test_messages_waiting_when_consuming_resumes_are_delivered_without_further_traffic(
    rabbitmq_url: str, prefix: str
) -> None:
    # The broker sends deliveries right behind consume-ok; read together, they sit in py-amqp's
    # buffer with the socket empty, and must still be dispatched.
    async def scenario() -> None:
        async with link(rabbitmq_url, prefix, prefetch=20) as (broker, inbox):
            for cycle in range(5):
                broker.pause()
                await asyncio.gather(
                    *(
                        broker.publish(request(prefix, b"w", message_id=f"m-{cycle}-{n}"))
                        for n in range(10)
                    )
                )
                await asyncio.sleep(0.05)
                broker.resume()
                await inbox.wait_for(10 * (cycle + 1), timeout=5)
                for delivery, token in inbox.items[10 * cycle :]:
                    await broker.settle(token, delivery, ACK)

    asyncio.run(scenario())
    assert settles_to_empty(rabbitmq_url, f"{prefix}.requests")


def test_a_requeued_delivery_comes_back_marked_redelivered(rabbitmq_url: str, prefix: str) -> None:
    async def scenario() -> None:
        async with link(rabbitmq_url, prefix) as (broker, inbox):
            await broker.publish(request(prefix, b"again"))
            await inbox.wait_for(1)
            delivery, token = inbox.items[0]
            await broker.settle(token, delivery, REQUEUE)
            await inbox.wait_for(2)
            again, token = inbox.items[1]
            assert (again.body, again.redelivered) == (b"again", True)
            await broker.settle(token, again, ACK)

    asyncio.run(scenario())


def test_after_a_lost_connection_the_link_reconnects_and_the_unsettled_message_returns(
    rabbitmq_url: str, prefix: str
) -> None:
    async def scenario(url: str, proxy: CuttableProxy) -> None:
        async with link(url, prefix) as (broker, inbox):
            await broker.publish(request(prefix, b"held"))
            await inbox.wait_for(1)
            delivery, stale = inbox.items[0]
            proxy.cut()  # the network drops both connections
            await inbox.wait_for(2, timeout=30)
            await broker.settle(stale, delivery, ACK)  # a tag of the old connection: dropped
            again, token = inbox.items[1]
            assert again.body == b"held"
            assert again.redelivered
            await broker.settle(token, again, ACK)
            assert broker.connected

    with CuttableProxy(("127.0.0.1", 5672)) as proxy:
        through_proxy = rabbitmq_url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
        asyncio.run(scenario(through_proxy, proxy))
    assert settles_to_empty(rabbitmq_url, f"{prefix}.requests")

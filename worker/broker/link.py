"""The worker's link to RabbitMQ, driven by its event loop: deliveries in, settles and events out.

Two kombu connections (RabbitMQ advises against publishing and consuming on one: a publisher
blocked by flow control would hold the consumer's acks back), each read by the event loop when
its socket is readable (``loop.add_reader``), so no thread hands messages back and forth and a
request in flight holds no thread (docs/adr/0001-concurrency-model.md). They are opened in a
helper thread (a connect may take seconds) and then only used from the loop.

Publishing is pipelined: the publisher channel is in confirm mode, every publish gets a future
resolved by the broker's ``basic.ack`` (several at once with ``multiple``), and failed by a
``basic.nack``, a ``basic.return`` of a mandatory message, or a lost connection. A delivery is
acknowledged only after the publishes it owes were confirmed; delivery tags die with their
connection, so a settle after a reconnect is dropped and the broker redelivers the message.
kombu's in-process ``memory://`` transport (the demo) has no socket: it is polled, and what it
accepts is confirmed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kombu
import structlog

from worker.broker import connection as broker
from worker.broker import topology
from worker.broker.publisher import CONTENT_TYPE, Outgoing
from worker.broker.wire import Wire
from worker.config import BrokerTarget
from worker.core.delivery import Delivery, Settle, copy_headers
from worker.errors import BrokerCertificateError, BrokerError

log = structlog.get_logger()

PUBLISH_ID_HEADER = "x-dataflow-publish-id"  # matches a basic.return to its publish
_RECONNECT_FIRST_SECONDS = 0.5
_RECONNECT_MAX_SECONDS = 10.0


def _coalescing(wire: Wire | None) -> contextlib.AbstractContextManager[None]:
    return wire.coalescing() if wire is not None else contextlib.nullcontext()


def _log_lost_copy(future: asyncio.Future[None]) -> None:
    if future.exception() is not None:
        log.error("delayed_copy_lost", error=str(future.exception()))


@dataclass(frozen=True, slots=True)
class Token:
    """Which connection a delivery came on, and its tag there."""

    generation: int
    tag: int


DeliveryHandler = Callable[[Delivery, Token], None]


class Confirms:
    """Publish futures by delivery tag, resolved as the broker's confirms arrive."""

    def __init__(self) -> None:
        self._pending: OrderedDict[int, asyncio.Future[None]] = OrderedDict()
        self._returned: dict[str, str] = {}
        self._next_tag = 1

    def add(self, future: asyncio.Future[None]) -> int:
        """Track the next publish; return its delivery tag."""
        tag, self._next_tag = self._next_tag, self._next_tag + 1
        self._pending[tag] = future
        return tag

    def returned(self, publish_id: str, why: str) -> None:
        """A mandatory message came back unroutable (its ack follows)."""
        self._returned[publish_id] = why

    def settle(self, tag: int, multiple: bool, ok: bool, ids: dict[int, str]) -> None:
        """Resolve the publishes an ack or nack covers."""
        tags = [t for t in self._pending if t <= tag] if multiple else [tag]
        for each in tags:
            future = self._pending.pop(each, None)
            publish_id = ids.pop(each, None)
            if future is None or future.done():
                continue
            why = self._returned.pop(publish_id, None) if publish_id else None
            if why is not None:
                future.set_exception(BrokerError(f"publishing: returned by the broker ({why})"))
            elif ok:
                future.set_result(None)
            else:
                future.set_exception(BrokerError("publishing: the broker refused it (nack)"))

    def fail_all(self, error: BrokerError) -> None:
        """The connection is gone: nothing pending will be confirmed."""
        pending, self._pending = self._pending, OrderedDict()
        for future in pending.values():
            if not future.done():
                future.set_exception(error)
        self._returned.clear()
        self._next_tag = 1


class BrokerLink:
    """Consumes the requests queue and publishes, with confirms, on the event loop."""

    def __init__(
        self,
        target: BrokerTarget,
        names: topology.Topology,
        *,
        prefetch: int,
        on_delivery: DeliveryHandler,
        on_connection: Callable[[bool], None] | None = None,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self._target = target
        self._names = names
        self._prefetch = prefetch
        self._on_delivery = on_delivery
        self._on_connection = on_connection or (lambda _up: None)
        self._on_reconnect = on_reconnect or (lambda: None)
        self._memory = broker.uses_memory(target.url)
        self._consumer_wire: Wire | None = None
        self._publisher_wire: Wire | None = None
        self._consumer: kombu.Consumer | None = None
        self._messages: dict[int, Any] = {}
        self._confirms = Confirms()
        self._publish_ids: dict[int, str] = {}
        self._ids = itertools.count(1)
        self._generation = 0
        self._paused = False
        self._consuming = False
        self._closing = False
        self._keeper: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        self._lost_event = asyncio.Event()
        self._timers: set[asyncio.TimerHandle] = set()
        self._first: asyncio.Future[BrokerError | None] | None = None

    @property
    def connected(self) -> bool:
        """True while both connections are up."""
        return self._up.is_set()

    @property
    def topology(self) -> topology.Topology:
        """The topology this link consumes from and publishes to."""
        return self._names

    async def start(self) -> None:
        """Connect (declaring the topology) and keep connected.

        A first connection refused over a certificate leaves the link retrying (a rotated
        certificate may fix it; the worker stays unready meanwhile); any other first failure is
        raised, so a worker started with settings that cannot work stops at once.
        """
        loop = asyncio.get_running_loop()
        self._first = loop.create_future()
        self._keeper = loop.create_task(self._keep_connected())
        error = await self._first
        if error is not None and not isinstance(error, BrokerCertificateError):
            await self.close()
            raise error

    async def close(self) -> None:
        """Stop consuming and close both connections (unsettled deliveries are redelivered)."""
        self._closing = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        # Cancelling the consumer is a round trip after the last acks: the broker has taken them
        # before the connection goes (a quorum queue may otherwise return acked messages).
        self._apply_consuming()
        self._disconnect(BrokerError("the broker link is closed"))

    # -- consuming -----------------------------------------------------------------------

    def pause(self) -> None:
        """Stop taking deliveries (the circuit opened, or the worker drains)."""
        self._paused = True
        self._apply_consuming()

    def resume(self) -> None:
        """Take deliveries again."""
        self._paused = False
        self._apply_consuming()

    def _apply_consuming(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        want = not (self._paused or self._closing)
        try:
            with broker.broker_errors("changing the consumer"):
                if want and not self._consuming:
                    consumer.consume()
                elif not want and self._consuming:
                    consumer.cancel()
        except BrokerError as error:
            self._lost(error)
            return
        self._consuming = want
        if self._consumer_wire is not None:
            self._consumer_wire.read_buffered()

    def _on_message(self, message: Any) -> None:
        tag = message.delivery_tag
        self._messages[tag] = message
        body = message.body
        headers = dict(message.headers or {})
        headers.pop(PUBLISH_ID_HEADER, None)
        delivery = Delivery(
            body=body if isinstance(body, bytes) else str(body).encode(),
            headers=headers,
            message_id=message.properties.get("message_id"),
            redelivered=bool(message.delivery_info.get("redelivered")),
        )
        self._on_delivery(delivery, Token(self._generation, tag))

    async def settle(self, token: Token, delivery: Delivery, settle: Settle) -> None:
        """Settle a delivery: store its copy first (delay, park), then ack; or requeue."""
        if settle.action == "delay" and self._memory:
            self._delay_in_process(delivery, settle)
        elif settle.action in ("delay", "park"):
            headers = copy_headers(delivery.headers, settle.headers)
            try:
                await self.publish(self._copy(delivery, settle, headers))
            except BrokerError as error:
                log.warning("copy_not_stored", action=settle.action, error=str(error))
                self._finish(token, "requeue")
                return
        self._finish(token, "requeue" if settle.action == "requeue" else "ack")

    def _delay_in_process(self, delivery: Delivery, settle: Settle) -> None:
        """The in-process transport has no TTL queues: a timer publishes the copy back."""
        loop = asyncio.get_running_loop()
        copy = self._copy(delivery, settle, copy_headers(delivery.headers, settle.headers))

        def fire() -> None:
            self._timers.discard(handle)
            self.publish(copy).add_done_callback(_log_lost_copy)

        handle = loop.call_later(settle.seconds, fire)
        self._timers.add(handle)

    @property
    def delayed_in_process(self) -> int:
        """Copies waiting in this process's timers (only with the in-process transport)."""
        return len(self._timers)

    def _copy(self, delivery: Delivery, settle: Settle, headers: dict[str, Any]) -> Outgoing:
        names = self._names
        if settle.action == "park":
            queue = names.dead_queue
        elif self._memory:  # no TTL queues in memory: a timer delays (see _delay_in_process)
            queue = names.requests_queue
        else:
            queue = names.retry_queue(names.tier_for(settle.seconds))
        return Outgoing(
            body=delivery.body,
            exchange="",
            routing_key=queue,
            message_id=delivery.message_id,
            type="DataflowRequested",
            correlation_id=headers.get("x-dataflow-request-id"),
            headers=headers,
            mandatory=True,
        )

    def _finish(self, token: Token, action: str) -> None:
        message = (
            self._messages.pop(token.tag, None) if token.generation == self._generation else None
        )
        if message is None:
            log.info("settle_dropped_after_reconnect", tag=token.tag, action=action)
            return
        wire = self._consumer_wire
        try:
            with broker.broker_errors("settling a delivery"), _coalescing(wire):
                if action == "ack":
                    message.ack()
                else:
                    message.requeue()
        except BrokerError as error:
            self._lost(error)

    # -- publishing ----------------------------------------------------------------------

    def publish(self, message: Outgoing) -> asyncio.Future[None]:
        """Publish; the future resolves when the broker confirmed it (or holds a BrokerError)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        wire = self._publisher_wire
        if wire is None or not self.connected:
            future.set_exception(BrokerError("publishing: not connected to the broker"))
            return future
        headers = dict(message.headers)
        publish_id = None
        if message.mandatory and not self._memory:
            publish_id = str(next(self._ids))
            headers[PUBLISH_ID_HEADER] = publish_id
        channel = wire.channel
        prepared = channel.prepare_message(
            message.body,
            content_type=CONTENT_TYPE,
            content_encoding="utf-8",
            headers=headers or None,  # an empty table costs as much as a small one
            properties={
                "delivery_mode": 2,
                "message_id": message.message_id,
                "type": message.type,
                "correlation_id": message.correlation_id,
            },
        )
        tag = None if self._memory else self._confirms.add(future)
        if tag is not None and publish_id is not None:
            self._publish_ids[tag] = publish_id
        try:
            with broker.broker_errors("publishing"), wire.coalescing():
                channel.basic_publish(
                    prepared,
                    exchange=message.exchange,
                    routing_key=message.routing_key,
                    mandatory=message.mandatory,
                )
        except BrokerError as error:
            self._lost(error)
            if not future.done():
                future.set_exception(error)
            return future
        if tag is None:  # the in-process transport has no confirms: it took the message
            future.set_result(None)
        return future

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._confirms.settle(tag, multiple, True, self._publish_ids)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self._confirms.settle(tag, multiple, False, self._publish_ids)

    def _on_return(self, exception: Any, exchange: str, routing_key: str, message: Any) -> None:
        headers = getattr(message, "headers", None) or {}
        publish_id = headers.get(PUBLISH_ID_HEADER)
        if publish_id is not None:
            self._confirms.returned(str(publish_id), f"{exchange or '(default)'}/{routing_key}")

    # -- the connections -----------------------------------------------------------------

    async def _keep_connected(self) -> None:
        wait = _RECONNECT_FIRST_SECONDS
        while not self._closing:
            try:
                await self._connect()
                self._attempted(None)
                wait = _RECONNECT_FIRST_SECONDS
                await self._lost_event.wait()
            except BrokerCertificateError as error:
                # Configuration, yet a rotated certificate may fix it: stay unready and retry.
                log.error("broker_certificate_refused", error=str(error))
                self._attempted(error)
            except BrokerError as error:
                log.warning("broker_connect_failed", error=str(error))
                self._attempted(error)
            if self._closing:
                return
            self._on_reconnect()
            await asyncio.sleep(wait)
            wait = min(wait * 2, _RECONNECT_MAX_SECONDS)

    def _attempted(self, error: BrokerError | None) -> None:
        """The outcome of the first connection attempt, for `start`."""
        if self._first is not None and not self._first.done():
            self._first.set_result(error)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost_event = asyncio.Event()
        consumer_wire = Wire(self._target, on_lost=self._lost)
        publisher_wire = Wire(self._target, on_lost=self._lost)
        try:
            await loop.run_in_executor(None, self._open, consumer_wire, publisher_wire)
        except BrokerError:
            consumer_wire.close()
            publisher_wire.close()
            raise
        self._generation += 1
        self._consumer_wire, self._publisher_wire = consumer_wire, publisher_wire
        channel = publisher_wire.channel
        if not self._memory:
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
        self._consumer = kombu.Consumer(
            consumer_wire.channel,
            queues=[topology.requests_queue(self._names)],
            on_message=self._on_message,
            prefetch_count=self._prefetch,
            no_ack=False,
            auto_declare=False,
        )
        self._consuming = False
        consumer_wire.attach(loop)
        publisher_wire.attach(loop)
        self._up.set()
        self._on_connection(True)
        self._apply_consuming()
        log.info("broker_connected", queue=self._names.requests_queue)

    def _open(self, consumer_wire: Wire, publisher_wire: Wire) -> None:
        """Open both connections and declare the topology (in a helper thread)."""
        consumer_wire.open()
        topology.declare(consumer_wire.channel, self._names, delay_queues=not self._memory)
        consumer_wire.channel.basic_qos(0, self._prefetch, False)
        publisher_wire.open()
        if not self._memory:
            with broker.broker_errors("enabling publisher confirms"):
                publisher_wire.channel.confirm_select()

    def _lost(self, error: BrokerError) -> None:
        if not self.connected:
            return
        log.warning("broker_connection_lost", error=str(error))
        self._disconnect(error)
        self._lost_event.set()

    def _disconnect(self, error: BrokerError) -> None:
        was_up = self._up.is_set()
        self._up.clear()
        self._consumer, self._consuming = None, False
        self._messages.clear()
        self._confirms.fail_all(error)
        self._publish_ids.clear()
        for wire in (self._consumer_wire, self._publisher_wire):
            if wire is not None:
                wire.close()
        self._consumer_wire = self._publisher_wire = None
        if was_up:
            self._on_connection(False)

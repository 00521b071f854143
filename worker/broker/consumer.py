"""The kombu consumer: one broker thread owns the connection, a pool runs the deliveries.

The broker thread drains events with a short timeout, checks heartbeats, and applies what the
pool threads hand back through a queue (ack, requeue, pause, resume): kombu connections are not
thread-safe, and a blocking callback would starve heartbeats (docs/adr/0001-concurrency-model.md).
Delivery tags die with their connection, so a settle from before a reconnect is dropped; the
broker redelivers that message and the ledger makes the redelivery harmless.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import kombu
import structlog

from worker.broker import connection as broker
from worker.broker import topology
from worker.config import BrokerTarget
from worker.errors import BrokerError

log = structlog.get_logger()

_DRAIN_TIMEOUT = 0.01  # also how long a queued ack may wait: it frees a prefetch slot
_RECONNECT_MAX_SECONDS = 10.0
_INTERRUPT_GRACE = 3.0
_IDLE_SECONDS = 0.5


class Settle(Enum):
    """What the broker thread does with a delivery once its handler returns."""

    ACK = "ack"
    REQUEUE = "requeue"
    REJECT = "reject"


@dataclass(frozen=True)
class Delivery:
    """One message taken from the requests queue, as the handler sees it (no kombu objects)."""

    body: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    redelivered: bool = False
    tag: int = 0
    generation: int = 0


Handler = Callable[[Delivery], Settle]


class Consumer:
    """Consumes the requests queue with manual acks and `concurrency` deliveries in flight."""

    def __init__(
        self,
        target: BrokerTarget,
        names: topology.Topology,
        *,
        concurrency: int,
        handler: Handler,
        on_connection: Callable[[bool], None] | None = None,
        on_reconnect: Callable[[], None] | None = None,
        stopping: threading.Event | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self._target = target
        self._url = target.url
        self._names = names
        self._concurrency = concurrency
        self._handler = handler
        self._on_connection = on_connection or (lambda _connected: None)
        self._on_reconnect = on_reconnect or (lambda: None)
        self._on_tick = on_tick or (lambda: None)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="dataflow-step")
        self._settles: queue.Queue[tuple[int, int, Settle]] = queue.Queue()
        self._messages: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._in_flight = 0
        self._generation = 0
        self._paused = False
        self._stopping = stopping or threading.Event()
        self._draining = threading.Event()
        self._drain_deadline = 0.0
        self._interrupt_at = 0.0
        self._thread: threading.Thread | None = None
        self._connection: kombu.Connection | None = None
        self._consumer: kombu.Consumer | None = None
        self._connected = False
        self._consuming = False
        self._idle_since: float | None = None
        self._watch_idle = False  # queue depths are polled only once someone asks

    @property
    def in_flight(self) -> int:
        """Deliveries taken and not yet settled."""
        with self._lock:
            return self._in_flight

    @property
    def connected(self) -> bool:
        """True while the consumer connection is up."""
        return self._connected

    @property
    def alive(self) -> bool:
        """False once the broker thread has died (a started consumer must keep it running)."""
        return self._thread is None or self._thread.is_alive()

    def start(self) -> None:
        """Start the broker thread."""
        self._thread = threading.Thread(target=self._run, name="dataflow-broker", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """Stop taking new deliveries (the circuit breaker opened)."""
        self._paused = True

    def resume(self) -> None:
        """Take deliveries again."""
        self._paused = False

    def idle(self) -> bool:
        """True when for half a second nothing was in flight and every watched queue was empty."""
        self._watch_idle = True
        since = self._idle_since
        return since is not None and time.monotonic() - since >= _IDLE_SECONDS

    def stop(self, drain_seconds: float) -> None:
        """Stop taking work, let in-flight deliveries settle for up to `drain_seconds`, close."""
        now = time.monotonic()
        self._drain_deadline = now + drain_seconds
        # In-flight requests may finish until shortly before the deadline; then they are asked
        # to hand their message back at the next step boundary.
        self._interrupt_at = now + max(drain_seconds - min(_INTERRUPT_GRACE, drain_seconds / 2), 0)
        self._draining.set()
        if self._thread is not None:
            self._thread.join(drain_seconds + 5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def stopping(self) -> threading.Event:
        """Set when in-flight requests must hand back at their next step boundary."""
        return self._stopping

    # -- the broker thread ---------------------------------------------------------------

    def _run(self) -> None:
        delay = 0.5
        while not self._finished():
            if self._session():
                delay = 0.5
            self._disconnect()
            if self._finished():
                break
            self._on_reconnect()
            self._draining.wait(delay)
            delay = min(delay * 2, _RECONNECT_MAX_SECONDS)
        self._disconnect()

    def _session(self) -> bool:
        """Connect and consume until stopped or the connection fails; True if it connected."""
        connected = False
        try:
            with broker.broker_errors("consuming"):
                self._connect()
                connected = True
                self._loop()
        except BrokerError as error:
            log.warning("broker_connection_lost", error=str(error))
        except Exception:  # a bug must not leave the worker without a consumer
            log.exception("broker_thread_failed")
        return connected

    def _finished(self) -> bool:
        if not self._draining.is_set():
            return False
        now = time.monotonic()
        if now >= self._interrupt_at:
            self._stopping.set()
        return self.in_flight == 0 or now >= self._drain_deadline

    def _connect(self) -> None:
        connection = broker.connect(self._target)
        connection.ensure_connection(max_retries=1)
        channel = connection.channel()
        topology.declare(channel, self._names, delay_queues=not broker.uses_memory(self._url))
        self._connection = connection
        self._consumer = kombu.Consumer(
            channel,
            queues=[topology.requests_queue(self._names)],
            on_message=self._on_message,
            prefetch_count=self._concurrency,
            no_ack=False,
            auto_declare=False,
        )
        self._consumer.qos(prefetch_count=self._concurrency, apply_global=False)
        self._consuming = False
        self._connected = True
        self._on_connection(True)
        log.info("broker_connected", queue=self._names.requests_queue)

    def _loop(self) -> None:
        assert self._connection is not None
        last_heartbeat = time.monotonic()
        last_idle_check = 0.0
        while not self._finished():
            self._apply_settles()
            self._apply_consuming()
            with contextlib.suppress(TimeoutError):
                self._connection.drain_events(timeout=_DRAIN_TIMEOUT)
            now = time.monotonic()
            if now - last_heartbeat >= 1.0:
                self._connection.heartbeat_check()
                self._on_tick()
                last_heartbeat = now
            if self._watch_idle and now - last_idle_check >= 0.25:
                self._check_idle()
                last_idle_check = now
        self._apply_settles()

    def _apply_consuming(self) -> None:
        assert self._consumer is not None
        want = not (self._paused or self._draining.is_set())
        if want and not self._consuming:
            self._consumer.consume()
            self._consuming = True
        elif not want and self._consuming:
            self._consumer.cancel()
            self._consuming = False

    def _check_idle(self) -> None:
        if self.in_flight or not self._settles.empty():
            self._idle_since = None
            return
        assert self._connection is not None
        channel = self._connection.default_channel
        names = [self._names.requests_queue]
        if not broker.uses_memory(self._url):
            names += [self._names.retry_queue(tier) for tier in self._names.tiers]
        waiting = sum(
            channel.queue_declare(queue=name, passive=True).message_count for name in names
        )
        if waiting:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = time.monotonic()

    def _on_message(self, message: Any) -> None:
        tag = message.delivery_tag
        delivery = Delivery(
            body=_raw_body(message.body),
            headers=dict(message.headers or {}),
            message_id=message.properties.get("message_id"),
            redelivered=bool(message.delivery_info.get("redelivered")),
            tag=tag,
            generation=self._generation,
        )
        with self._lock:
            self._in_flight += 1
            self._messages[tag] = message
        self._idle_since = None
        self._pool.submit(self._handle, delivery)

    def _handle(self, delivery: Delivery) -> None:
        try:
            action = self._handler(delivery)
        except Exception:  # a bug must not kill the pool thread; the redelivery is counted
            log.exception("delivery_handler_crashed", message_id=delivery.message_id)
            action = Settle.REQUEUE
        self._settles.put((delivery.generation, delivery.tag, action))

    def _apply_settles(self) -> None:
        while True:
            try:
                generation, tag, action = self._settles.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                message = self._messages.pop(tag, None) if generation == self._generation else None
                self._in_flight -= 1
            if message is None:
                log.info("settle_dropped_after_reconnect", tag=tag, action=action.value)
                continue
            if action is Settle.ACK:
                message.ack()
            elif action is Settle.REQUEUE:
                message.requeue()
            else:
                message.reject(requeue=False)

    def _disconnect(self) -> None:
        connection, self._connection, self._consumer = self._connection, None, None
        if self._connected:
            self._connected = False
            self._on_connection(False)
        with self._lock:
            self._generation += 1
            self._messages.clear()
        if connection is not None:
            try:
                connection.release()
            except (OSError, *connection.connection_errors) as error:
                log.debug("consumer_close_failed", error=str(error))
        # Settles queued for the old connection can never be applied; count them out.
        self._apply_settles()


def _raw_body(body: Any) -> bytes:
    """The message body as bytes (py-amqp hands UTF-8 bodies over as text)."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)

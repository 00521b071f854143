"""The gate every Platform call passes: the adaptive limit of `worker.core.limiter`, applied.

A call waits for a slot (first come, first served) while the limit is full or a ``Retry-After``
pauses the worker, then reports its answer, which moves the limit. The gate decides nothing
itself; it keeps the limiter's state, the queue of waiters, and one timer that wakes them when
a pause ends. It belongs to the event loop it is first used in, like the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from worker.core.limiter import Answer, Limiter, LimiterConfig, pause_added
from worker.errors import RetryableError


class GateMetrics(Protocol):
    """What the gate reports: the limit and the calls in flight, and every pause."""

    def observe_limit(self, limit: int, in_flight: int) -> None:
        """Set the gauges of the current limit and the calls in flight."""

    def count_pause(self, seconds: float) -> None:
        """Add the seconds a ``Retry-After`` paused every call."""


class Gate:
    """Admits calls up to the adaptive limit, in their order of arrival."""

    def __init__(
        self,
        config: LimiterConfig,
        *,
        metrics: GateMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiter = Limiter(config)
        self._state = self._limiter.start()
        self._metrics = metrics
        self._clock = clock
        self._waiters: deque[asyncio.Future[bool]] = deque()  # True: a slot was handed over
        self._timer: asyncio.Handle | None = None
        self._closed = False
        self._report()

    @property
    def limit(self) -> int:
        """The calls the limit lets be in flight now."""
        return self._state.allowed

    @property
    def in_flight(self) -> int:
        """The calls in flight now."""
        return self._state.in_flight

    async def enter(self) -> float:
        """Wait for a slot; return when the call was let through (the clock's time).

        Cancelling the wait gives up the place in the queue (or the slot, if it was already
        handed over). After `close`, raises RetryableError: nothing was sent.
        """
        self._check_open()
        if not self._waiters and self._limiter.admits(self._state, self._clock()):
            return self._take()
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._schedule_wake()
        try:
            handed = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self._give_back()  # the slot was ours already: pass it on
            else:
                self._discard(waiter)
            raise
        if self._closed:
            if handed:
                self._give_back()
            self._check_open()
        return self._clock()

    def leave(
        self, sent_at: float, seconds: float, status: int | None, retry_after: float | None
    ) -> None:
        """Report a call's answer (``status`` None: none came) and free its slot."""
        throttled = status == 429
        failed = status is None or status >= 500
        self.report(
            Answer(sent_at, seconds, throttled=throttled, failed=failed, retry_after=retry_after)
        )

    def report(self, answer: Answer) -> None:
        """Report a call's answer: the slot is free and the limit moves with what it said."""
        now = self._clock()
        before = self._state
        self._state = self._limiter.answered(before, answer, now)
        added = pause_added(before, self._state, now)
        if added and self._metrics is not None:
            self._metrics.count_pause(added)
        self._serve()

    def close(self) -> None:
        """Stop admitting: every waiter gives up with RetryableError (the worker shuts down)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(False)  # wakes it to find the gate closed

    def _check_open(self) -> None:
        if self._closed:
            raise RetryableError("the Platform client is closing: the call was not sent")

    def _take(self) -> float:
        self._state = self._limiter.sent(self._state)
        self._report()
        return self._clock()

    def _give_back(self) -> None:
        self._state = self._limiter.answered(
            self._state, Answer(sent_at=self._clock(), seconds=0.0, failed=True), self._clock()
        )
        self._serve()

    def _discard(self, waiter: asyncio.Future[bool]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def _serve(self) -> None:
        """Hand free slots to the waiters at the head of the queue, in order."""
        now = self._clock()
        while self._waiters and self._limiter.admits(self._state, now):
            waiter = self._waiters.popleft()
            if waiter.done():
                continue  # cancelled while waiting
            self._state = self._limiter.sent(self._state)
            waiter.set_result(True)
        self._report()
        self._schedule_wake()

    def _schedule_wake(self) -> None:
        """Make sure the waiters are woken: when a pause ends, or at once if nothing else will.

        While calls are in flight and the limit is full, their answers wake the queue; otherwise
        a callback must (a pause that just ended leaves no answer to come).
        """
        if self._timer is not None or not self._waiters or self._closed:
            return
        loop = asyncio.get_running_loop()
        remaining = self._state.paused_until - self._clock()
        if remaining > 0:
            self._timer = loop.call_later(remaining, self._wake)
        elif self._state.in_flight < self._state.allowed:
            self._timer = loop.call_soon(self._wake)

    def _wake(self) -> None:
        self._timer = None
        self._serve()

    def _report(self) -> None:
        if self._metrics is not None:
            self._metrics.observe_limit(self._state.allowed, self._state.in_flight)

"""How many Platform calls a worker keeps in flight: AIMD, as TCP does with its window.

Pure: no I/O, no threads, no clock. The caller passes the time (seconds on a monotonic clock)
and reports every answer; the state is an immutable value, so each decision is reproducible.

- **Slow start**: from ``initial`` the limit grows by one per answer that used it (doubling per
  round trip) until the first decrease.
- **Additive increase**: after that, by ``1 / limit`` per such answer (one per round trip). An
  answer counts only when the limit was actually used (at least half of it in flight), so an
  idle worker does not inflate a limit it never tested. Once the Platform gave a
  ``Retry-After``, by one per that many seconds when that is longer than a round trip: a limit
  refilled per second (a token bucket) shows an overshoot only once its burst is spent, so
  growing faster than its own time scale only buys the next 429.
- **Multiplicative decrease**: a 429 multiplies the limit by ``throttle_factor``; latency
  rising well above its usual level (the recent latency, a fast average, beyond
  ``latency_tolerance`` times the long-term one, a slow average, plus ``latency_slack``: a
  gradient) by ``latency_factor``. Comparing two averages, not the recent one with the lowest
  ever seen, keeps calls that are simply unequal (a fast look-up beside a slow create, latency
  that varies from call to call) from reading as a queue building up. At most once per round
  trip: only an answer to a call sent after the previous decrease lowers it again.
- **Pause**: a 429's ``Retry-After`` stops every call of the worker until its deadline.

The limit stays within ``[1, max_limit]``. Not adaptive: fixed at ``max_limit``, no pause.
Several workers sharing one organisation's limit each back off when it answers 429, so together
they settle on it without talking to each other (docs/adr/0012-adaptive-concurrency.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

NEVER = -math.inf


@dataclass(frozen=True, slots=True)
class LimiterConfig:
    """The bounds and the constants of the control loop."""

    max_limit: int = 64
    adaptive: bool = True
    initial: float = 4.0
    throttle_factor: float = 0.5
    latency_factor: float = 0.9
    latency_tolerance: float = 2.0
    latency_slack: float = 0.01  # seconds beyond the tolerance: jitter of fast calls is no signal
    smoothing: float = 0.2  # weight of the newest latency in the recent average
    long_smoothing: float = 0.02  # ... and in the long-term one

    def __post_init__(self) -> None:
        """Refuse constants the loop cannot work with."""
        if self.max_limit < 1:
            raise ValueError("max_limit must be at least 1")
        if not 0 < self.throttle_factor < 1 or not 0 < self.latency_factor < 1:
            raise ValueError("the decrease factors must be in (0, 1)")
        if self.latency_tolerance <= 1 or not 0 < self.long_smoothing < self.smoothing <= 1:
            raise ValueError(
                "latency_tolerance must exceed 1 and 0 < long_smoothing < smoothing <= 1"
            )


@dataclass(frozen=True, slots=True)
class Answer:
    """What became of one call: when it was sent, how long it took, what the Platform said.

    ``failed``: no usable answer (a timeout, a dropped connection, a 5xx); it neither raises
    nor lowers the limit. ``retry_after``: the seconds of a 429's ``Retry-After``, if given.
    """

    sent_at: float
    seconds: float
    throttled: bool = False
    failed: bool = False
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class LimitState:
    """The limit (fractional: additive increase adds fractions), the calls in flight, the
    latency seen, when the limit last fell, and until when every call waits."""

    limit: float
    in_flight: int = 0
    threshold: float = math.inf  # slow start below it
    long_latency: float | None = None
    smoothed_latency: float | None = None
    decreased_at: float = NEVER
    paused_until: float = NEVER
    period: float = 0.0  # the last Retry-After: the Platform's time scale for the increase

    @property
    def allowed(self) -> int:
        """The whole number of calls the limit lets be in flight (at least one)."""
        return max(1, int(self.limit))


class Limiter:
    """The decisions of the control loop for one worker, on states it returns anew."""

    def __init__(self, config: LimiterConfig) -> None:
        self.config = config

    def start(self) -> LimitState:
        """The state before any call: ``initial`` (capped by the maximum), or the maximum."""
        c = self.config
        limit = min(c.initial, c.max_limit) if c.adaptive else c.max_limit
        return LimitState(limit=float(max(1.0, limit)))

    def admits(self, state: LimitState, now: float) -> bool:
        """Whether one more call may be sent at ``now``."""
        return now >= state.paused_until and state.in_flight < state.allowed

    def sent(self, state: LimitState) -> LimitState:
        """One more call in flight."""
        return replace(state, in_flight=state.in_flight + 1)

    def answered(self, state: LimitState, answer: Answer, now: float) -> LimitState:
        """One call fewer in flight, and the limit adjusted to what its answer says."""
        used = state.in_flight * 2 >= state.allowed
        state = replace(state, in_flight=max(0, state.in_flight - 1))
        if not self.config.adaptive or answer.failed:
            return state
        if answer.throttled:
            return self._throttled(state, answer, now)
        state = self._latency(state, answer.seconds)
        if self._rising(state):
            return self._decrease(state, answer, now, self.config.latency_factor)
        return self._increase(state, answer.seconds) if used else state

    def _throttled(self, state: LimitState, answer: Answer, now: float) -> LimitState:
        if answer.retry_after is not None:
            paused_until = max(state.paused_until, now + answer.retry_after)
            state = replace(state, paused_until=paused_until, period=answer.retry_after)
        return self._decrease(state, answer, now, self.config.throttle_factor)

    def _decrease(self, state: LimitState, answer: Answer, now: float, factor: float) -> LimitState:
        if answer.sent_at < state.decreased_at:
            return state  # sent under the old limit: that round trip was already answered for
        limit = max(1.0, state.limit * factor)
        return replace(state, limit=limit, threshold=limit, decreased_at=now)

    def _increase(self, state: LimitState, seconds: float) -> LimitState:
        if state.limit < state.threshold:
            step = 1.0
        else:
            round_trip = max(seconds, 1e-3)
            step = min(1.0, round_trip / max(state.period, round_trip)) / state.limit
        return replace(state, limit=min(float(self.config.max_limit), state.limit + step))

    def _latency(self, state: LimitState, seconds: float) -> LimitState:
        c = self.config
        if state.long_latency is None or state.smoothed_latency is None:
            return replace(state, long_latency=seconds, smoothed_latency=seconds)
        usual = state.long_latency + c.long_smoothing * (seconds - state.long_latency)
        smoothed = state.smoothed_latency + c.smoothing * (seconds - state.smoothed_latency)
        return replace(state, long_latency=usual, smoothed_latency=smoothed)

    def _rising(self, state: LimitState) -> bool:
        usual, smoothed = state.long_latency, state.smoothed_latency
        if usual is None or smoothed is None:
            return False
        return smoothed > self.config.latency_tolerance * usual + self.config.latency_slack


def pause_added(before: LimitState, after: LimitState, now: float) -> float:
    """The seconds of pause an answer added (0 when it did not extend the deadline)."""
    return max(0.0, after.paused_until - max(before.paused_until, now))

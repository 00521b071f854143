"""Tests of the adaptive concurrency limit: slow start, AIMD, the latency gradient, the pause."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.core.limiter import NEVER, Answer, Limiter, LimiterConfig, LimitState, pause_added

CONFIG = LimiterConfig(max_limit=32, initial=4)
LIMITER = Limiter(CONFIG)
FAST = 0.05


def _busy(
    limit: float,
    in_flight: int | None = None,
    *,
    threshold: float = math.inf,
    decreased_at: float = NEVER,
    paused_until: float = NEVER,
    period: float = 0.0,
) -> LimitState:
    """A state with ``limit`` and (by default) all of it in flight."""
    return LimitState(
        limit=limit,
        in_flight=int(limit) if in_flight is None else in_flight,
        threshold=threshold,
        long_latency=FAST,
        smoothed_latency=FAST,
        decreased_at=decreased_at,
        paused_until=paused_until,
        period=period,
    )


def test_a_fresh_limiter_starts_at_its_initial_limit_with_nothing_in_flight() -> None:
    assert LIMITER.start() == LimitState(limit=4.0)


def test_a_fixed_limiter_starts_at_its_maximum_and_never_moves() -> None:
    fixed = Limiter(LimiterConfig(max_limit=10, adaptive=False))
    state = fixed.sent(fixed.start())
    after = fixed.answered(state, Answer(sent_at=0, seconds=FAST, throttled=True, retry_after=5), 1)
    assert after == LimitState(limit=10.0)
    assert fixed.admits(after, 1)


@pytest.mark.parametrize(
    ("state", "now", "admits"),
    [
        (LimitState(limit=4), 0, True),
        (LimitState(limit=4, in_flight=3), 0, True),
        (LimitState(limit=4, in_flight=4), 0, False),
        (LimitState(limit=4.9, in_flight=4), 0, False),  # whole calls only
        (LimitState(limit=0.5), 0, True),  # never below one
        (LimitState(limit=4, paused_until=10), 9.9, False),
        (LimitState(limit=4, paused_until=10), 10, True),
    ],
)
def test_a_call_is_admitted_below_the_limit_and_outside_a_pause(
    state: LimitState, now: float, admits: bool
) -> None:
    assert LIMITER.admits(state, now) is admits


@pytest.mark.parametrize(
    ("state", "answer", "limit"),
    [
        # slow start: one more per answer that used the limit
        (_busy(4), Answer(sent_at=0, seconds=FAST), 5.0),
        # congestion avoidance after a decrease: 1 / limit per answer
        (_busy(4, threshold=4), Answer(sent_at=0, seconds=FAST), 4.25),
        # after a Retry-After of 1 s: one per second, not one per round trip of 50 ms
        (_busy(4, threshold=4, period=1.0), Answer(sent_at=0, seconds=FAST), 4.0125),
        # a Retry-After shorter than the round trip does not speed it up
        (_busy(4, threshold=4, period=0.01), Answer(sent_at=0, seconds=FAST), 4.25),
        # an idle worker does not grow a limit it did not use
        (_busy(8, in_flight=2), Answer(sent_at=0, seconds=FAST), 8.0),
        # never beyond the maximum
        (_busy(32), Answer(sent_at=0, seconds=FAST), 32.0),
        # a 429 halves
        (_busy(8), Answer(sent_at=0, seconds=0.001, throttled=True), 4.0),
        # ... but never below one
        (_busy(1.5), Answer(sent_at=0, seconds=0.001, throttled=True), 1.0),
        # ... and once per round trip: a call sent before the last decrease is not counted
        (_busy(8, decreased_at=5), Answer(sent_at=4, seconds=FAST, throttled=True), 8.0),
        # latency well above its usual level lowers it gently
        (_busy(10), Answer(sent_at=0, seconds=2.0), 9.0),
        # a failure without an answer says nothing about the limit
        (_busy(8), Answer(sent_at=0, seconds=30, failed=True), 8.0),
    ],
)
def test_each_answer_moves_the_limit_as_aimd_says(
    state: LimitState, answer: Answer, limit: float
) -> None:
    after = LIMITER.answered(state, answer, now=10)
    assert after.limit == pytest.approx(limit)
    assert after.in_flight == state.in_flight - 1


def test_a_decrease_ends_slow_start() -> None:
    after = LIMITER.answered(_busy(16), Answer(sent_at=0, seconds=0, throttled=True), now=1)
    assert after.threshold == after.limit == 8.0
    assert after.decreased_at == 1


def test_a_429_with_retry_after_pauses_every_call_until_its_deadline() -> None:
    before = _busy(8, in_flight=1)
    after = LIMITER.answered(before, Answer(sent_at=0, seconds=0, throttled=True, retry_after=2), 3)
    assert after.paused_until == 5
    assert after.period == 2
    assert not LIMITER.admits(after, 4.99)
    assert LIMITER.admits(after, 5)
    assert pause_added(before, after, 3) == 2


def test_a_shorter_retry_after_does_not_shorten_a_pause() -> None:
    before = _busy(8, paused_until=9)
    after = LIMITER.answered(before, Answer(sent_at=0, seconds=0, throttled=True, retry_after=1), 3)
    assert after.paused_until == 9
    assert pause_added(before, after, 3) == 0


def test_the_usual_latency_follows_slowly_the_recent_one_quickly() -> None:
    state = LIMITER.answered(_busy(4), Answer(sent_at=0, seconds=0.2), now=1)
    assert state.long_latency == pytest.approx(FAST + CONFIG.long_smoothing * 0.15)
    assert state.smoothed_latency == pytest.approx(FAST + CONFIG.smoothing * 0.15)


def test_latency_that_varies_from_call_to_call_is_no_reason_to_back_off() -> None:
    rng = random.Random(7)  # 0 to 250 ms at random, as the chaos run injects
    state, now = LIMITER.start(), 0.0
    for _ in range(2000):
        state = LIMITER.sent(state)
        if state.in_flight < state.allowed:
            continue  # answers come once the limit is in use
        now += 0.01
        state = LIMITER.answered(state, Answer(sent_at=now, seconds=rng.uniform(0, 0.25)), now)
    assert state.limit == CONFIG.max_limit


def test_latency_that_climbs_and_stays_high_lowers_the_limit() -> None:
    state, now = _busy(16), 0.0
    for seconds in [FAST] * 50 + [FAST * 5] * 10:
        now += 0.1
        state = LIMITER.answered(LIMITER.sent(state), Answer(sent_at=now, seconds=seconds), now)
    assert state.limit < 16


@pytest.mark.parametrize(
    "config",
    [
        {"max_limit": 0},
        {"throttle_factor": 1.0},
        {"latency_factor": 0.0},
        {"latency_tolerance": 1.0},
        {"smoothing": 0.0},
        {"long_smoothing": 0.5},
    ],
)
def test_unworkable_constants_are_refused(config: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        LimiterConfig(**config)  # type: ignore[arg-type]


events = st.lists(
    st.tuples(
        st.sampled_from(["send", "ok", "slow", "throttled", "failed"]),
        st.floats(0, 3),  # seconds since the previous event
        st.one_of(st.none(), st.floats(0, 5)),  # Retry-After
    ),
    max_size=80,
)


@given(events=events, max_limit=st.integers(1, 40), adaptive=st.booleans())
def test_the_limit_stays_in_bounds_a_429_never_raises_it_and_a_pause_holds(
    events: list[tuple[str, float, float | None]], max_limit: int, adaptive: bool
) -> None:
    limiter = Limiter(LimiterConfig(max_limit=max_limit, adaptive=adaptive))
    state, now, sent = limiter.start(), 0.0, [0.0]
    for kind, step, retry_after in events:
        now += step
        if kind == "send":
            if limiter.admits(state, now):
                state, sent = limiter.sent(state), [*sent, now]
            continue
        if not state.in_flight:
            continue
        answer = Answer(
            sent_at=sent.pop(0),
            seconds=5.0 if kind == "slow" else FAST,
            throttled=kind == "throttled",
            failed=kind == "failed",
            retry_after=retry_after,
        )
        after = limiter.answered(state, answer, now)
        assert 1 <= after.limit <= max_limit
        if answer.throttled:
            assert after.limit <= state.limit
            if adaptive and retry_after is not None:
                assert not limiter.admits(after, now + retry_after - 1e-6)
        state = after

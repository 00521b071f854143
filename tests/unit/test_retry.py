"""Tests of the retry policy: backoff, Retry-After, limits and delay tiers."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.core.retry import DELAY_TIERS, RetryPolicy, compute_backoff, decide, delay_tier
from worker.errors import (
    ConfigurationError,
    NotFoundError,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
)

POLICY = RetryPolicy(max_attempts=5, max_seconds=600, factor_seconds=2, max_backoff_seconds=60)


@pytest.mark.parametrize(
    ("attempts", "jitter", "expected"),
    [
        (1, 1.0, 2.0),
        (2, 1.0, 4.0),
        (3, 1.0, 8.0),
        (3, 0.5, 4.0),
        (3, 0.0, 0.0),
        (6, 1.0, 60.0),  # 64 capped at max_backoff
        (1000, 1.0, 60.0),
        (0, 1.0, 2.0),  # no attempt yet: the first ceiling
    ],
)
def test_backoff_doubles_per_attempt_scaled_by_jitter_up_to_the_cap(
    attempts: int, jitter: float, expected: float
) -> None:
    assert compute_backoff(attempts, factor=2, jitter=jitter, max_backoff=60) == expected


@pytest.mark.parametrize("jitter", [-0.1, 1.5])
def test_backoff_refuses_a_jitter_outside_zero_to_one(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        compute_backoff(1, factor=1, jitter=jitter, max_backoff=10)


@pytest.mark.parametrize(
    ("error", "attempts", "elapsed", "retry", "delay", "kind"),
    [
        (RetryableError("503", status=503), 1, 0, True, 2.0, None),
        (RetryableError("503", status=503), 3, 0, True, 8.0, None),
        (OutcomeUnknownError("dropped"), 2, 10, True, 4.0, None),
        (RetryableError("429", status=429, retry_after_seconds=30), 1, 0, True, 30.0, None),
        (RetryableError("429", status=429, retry_after_seconds=0.5), 3, 0, True, 8.0, None),
        (RetryableError("503", status=503), 5, 0, False, 0.0, "retries_exhausted"),
        (RetryableError("503", status=503), 2, 597, False, 0.0, "retries_exhausted"),
        (RetryableError("429", retry_after_seconds=700), 1, 0, False, 0.0, "retries_exhausted"),
        (RejectedError("400", status=400), 1, 0, False, 0.0, "rejected"),
        (NotFoundError("404", status=404), 1, 0, False, 0.0, "rejected"),
        (ConfigurationError("bad"), 1, 0, False, 0.0, "rejected"),
        (ValueError("a plain error has no retryable flag"), 1, 0, False, 0.0, "rejected"),
    ],
)
def test_a_decision_follows_the_error_the_attempts_and_the_time_spent(
    error: BaseException,
    attempts: int,
    elapsed: float,
    retry: bool,
    delay: float,
    kind: str | None,
) -> None:
    decision = decide(error, attempts=attempts, elapsed_seconds=elapsed, policy=POLICY, jitter=1.0)
    assert (decision.retry, decision.delay_seconds, decision.failure_kind) == (retry, delay, kind)


@pytest.mark.parametrize(
    ("seconds", "tier"),
    [(0, 1), (0.2, 1), (1, 1), (1.01, 2), (3, 4), (4, 4), (600, 1024), (1024, 1024), (5000, 1024)],
)
def test_a_delay_maps_to_the_smallest_tier_that_does_not_fire_early(
    seconds: float, tier: int
) -> None:
    assert delay_tier(seconds) == tier


def test_the_delay_tiers_are_powers_of_two_from_one_second_to_1024() -> None:
    assert DELAY_TIERS[0] == 1
    assert DELAY_TIERS[-1] == 1024
    assert all(b == 2 * a for a, b in itertools.pairwise(DELAY_TIERS))


@pytest.mark.parametrize(
    "fields",
    [
        {"max_attempts": 0},
        {"max_seconds": 0},
        {"factor_seconds": -1},
        {"max_backoff_seconds": 0},
    ],
)
def test_a_policy_with_impossible_limits_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**fields)  # type: ignore[arg-type]


policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 20),
    max_seconds=st.floats(1, 10_000),
    factor_seconds=st.floats(0.01, 10),
    max_backoff_seconds=st.floats(0.1, 2_000),
)
retry_afters = st.one_of(st.none(), st.floats(0, 5_000))


@given(
    policy=policies,
    attempts=st.integers(0, 100),
    elapsed=st.floats(0, 20_000),
    retry_after=retry_afters,
    jitter=st.floats(0, 1),
)
def test_a_retry_waits_within_the_backoff_ceiling_or_the_retry_after_and_within_the_limits(
    policy: RetryPolicy,
    attempts: int,
    elapsed: float,
    retry_after: float | None,
    jitter: float,
) -> None:
    error = RetryableError("transient", retry_after_seconds=retry_after)
    decision = decide(
        error, attempts=attempts, elapsed_seconds=elapsed, policy=policy, jitter=jitter
    )
    if not decision.retry:
        assert decision.failure_kind == "retries_exhausted"
        return
    assert attempts < policy.max_attempts
    assert elapsed + decision.delay_seconds <= policy.max_seconds
    assert decision.delay_seconds >= (retry_after or 0.0)
    assert decision.delay_seconds <= max(policy.max_backoff_seconds, retry_after or 0.0)
    assert delay_tier(decision.delay_seconds) >= min(decision.delay_seconds, DELAY_TIERS[-1])


@given(policy=policies, elapsed=st.floats(0, 10), jitter=st.floats(0, 1))
def test_retrying_a_step_again_and_again_ends_within_max_attempts(
    policy: RetryPolicy, elapsed: float, jitter: float
) -> None:
    error = RetryableError("always down")
    attempts = 1
    while decide(
        error, attempts=attempts, elapsed_seconds=elapsed, policy=policy, jitter=jitter
    ).retry:
        attempts += 1
    assert attempts <= policy.max_attempts

"""Retry policy: exponential backoff with full jitter, Retry-After, attempt and time limits.

Pure: no I/O and no clock or random reads. The caller passes the time elapsed since the request
started and a jitter fraction drawn from ``random.random()``, so every decision is reproducible.

The broker delays retries with one TTL queue per delay tier (1, 2, 4, ... 1024 s);
:func:`delay_tier` maps a wanted delay onto the tier that never fires early.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DELAY_TIERS: tuple[int, ...] = tuple(2**exponent for exponent in range(11))
"""Delay tiers in seconds, one TTL queue each: 1, 2, 4, ... 1024."""

FailureKind = Literal["retries_exhausted", "rejected"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a step is retried; ``max_attempts`` and ``max_seconds`` come from the settings."""

    max_attempts: int = 8
    max_seconds: float = 3600.0
    factor_seconds: float = 1.0
    max_backoff_seconds: float = 300.0

    def __post_init__(self) -> None:
        """Refuse limits that cannot work, so a bad policy fails where it is built."""
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_seconds <= 0 or self.factor_seconds <= 0 or self.max_backoff_seconds <= 0:
            raise ValueError("max_seconds, factor_seconds and max_backoff_seconds must be > 0")


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Retry after ``delay_seconds``, or fail with ``failure_kind``."""

    retry: bool
    delay_seconds: float = 0.0
    failure_kind: FailureKind | None = None


def compute_backoff(attempts: int, *, factor: float, jitter: float, max_backoff: float) -> float:
    """The backoff after ``attempts`` failed attempts: uniform in [0, min(cap, factor * 2^(n-1))].

    ``jitter`` is the random fraction in [0, 1] that scales the ceiling ("full jitter").
    """
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be a fraction in [0, 1], got {jitter}")
    exponent = min(max(attempts - 1, 0), 62)  # bounded so the float never overflows
    ceiling = min(max_backoff, factor * 2.0**exponent)
    return jitter * ceiling


def decide(
    error: object,
    *,
    attempts: int,
    elapsed_seconds: float,
    policy: RetryPolicy,
    jitter: float,
) -> RetryDecision:
    """Whether a failed step is retried and after how long, or how the request fails.

    ``attempts`` counts the step's attempts including the one that just failed;
    ``elapsed_seconds`` is the time since the request started. An error that is not retryable
    (``retryable`` false or absent: a 4xx rejection, an invalid request) fails at once as
    ``rejected``. A retryable one waits the jittered backoff, and never less than the server's
    ``Retry-After``; when the attempts or the total time would run out, it fails as
    ``retries_exhausted``.
    """
    if not getattr(error, "retryable", False):
        return RetryDecision(retry=False, failure_kind="rejected")
    if attempts >= policy.max_attempts:
        return RetryDecision(retry=False, failure_kind="retries_exhausted")
    backoff = compute_backoff(
        attempts,
        factor=policy.factor_seconds,
        jitter=jitter,
        max_backoff=policy.max_backoff_seconds,
    )
    retry_after = getattr(error, "retry_after_seconds", None)
    delay = max(backoff, float(retry_after)) if retry_after is not None else backoff
    if elapsed_seconds + delay > policy.max_seconds:
        return RetryDecision(retry=False, failure_kind="retries_exhausted")
    return RetryDecision(retry=True, delay_seconds=delay)


def delay_tier(seconds: float) -> int:
    """The smallest delay tier not shorter than ``seconds`` (the longest tier beyond it).

    A delay longer than the longest tier waits that tier and is delayed again for the rest.
    """
    for tier in DELAY_TIERS:
        if tier >= seconds:
            return tier
    return DELAY_TIERS[-1]

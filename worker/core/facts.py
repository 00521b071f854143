"""What the step machine knows before a request runs: its facts and the worker's limits (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from worker.core.retry import RetryPolicy
from worker.core.steps import Step


@dataclass(frozen=True, slots=True)
class Facts:
    """What stays fixed while a request runs: its plan, names, and what it asks for."""

    request_id: str
    plan: tuple[Step, ...]
    reuses: frozenset[Step]
    names: Mapping[Step, str | None]
    rollback: bool = False
    follow: bool = False
    follow_first_wait: float = 16.0
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Limits:
    """The worker's policies: retries, poison, early copies, hand-backs."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    poison_deliveries: int = 5
    early_tolerance: float = 0.5  # a retry copy this early runs anyway (tiers never fire early)
    handback_seconds: float = 2.0

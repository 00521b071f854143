"""What a chaos run does, decided up front from its options and seed (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from tests.integration.scenario import CREATES

ActionKind = Literal["kill", "window_kill", "cut"]

# The creates a kill can wait for in their dangerous window: those whose resource is named
# after its request (mapping sets carry no name).
WINDOW_CREATES = {step: create for step, create in CREATES.items() if step != "mapping_set"}
# How long the emulator holds back the answer of a create in a dangerous window.
WINDOW_HOLD_MS = 3000


@dataclass(frozen=True)
class ChaosOptions:
    """The size of a run: requests, workers, kills (of which in the window), cuts, seed."""

    requests: int = 300
    workers: int = 2
    kills: int = 5
    window_kills: int = 2
    cuts: int = 2
    seed: int = 1
    concurrency: int = 8
    latency_ms: tuple[int, int] = (0, 250)
    error_rate: float = 0.10
    throttle_rate: float = 0.05
    drop_rate: float = 0.03
    recovery_limit_s: float = 20.0

    def __post_init__(self) -> None:
        if not 0 <= self.window_kills <= self.kills:
            raise ValueError("window kills are some of the kills: 0 <= window_kills <= kills")
        if self.requests < self.kills + self.cuts + 1 or self.workers < 1:
            raise ValueError("a run needs a worker and more requests than kills and cuts")


@dataclass(frozen=True)
class Action:
    """One disruption: a kill at a random moment, a kill in a create's window, or a cut."""

    kind: ActionKind
    worker: int  # which worker slot a random kill hits (ignored by the others)
    step: str | None = None  # the create whose window a window kill waits for
    settle_s: float = 0.0  # how long to let fresh work start before acting


def faults(options: ChaosOptions) -> dict[str, Any]:
    """The emulator's fault settings for the whole run (contract section 7)."""
    return {
        "seed": options.seed,
        "latency_ms": list(options.latency_ms),
        "errors": {"503": options.error_rate},
        "throttle": {"rate": options.throttle_rate, "retry_after_s": 1},
        "commit_then_drop": options.drop_rate,
    }


def window_faults(options: ChaosOptions, step: str) -> dict[str, Any]:
    """The run's faults narrowed to one create's path, whose answers are held back longer."""
    _, path = WINDOW_CREATES[step]
    return {**faults(options), "latency_ms": WINDOW_HOLD_MS, "paths": path}


def actions(options: ChaosOptions) -> list[Action]:
    """The disruptions in the order they happen: shuffled, each after a short random settle."""
    rng = random.Random(options.seed)
    steps = list(WINDOW_CREATES)
    rng.shuffle(steps)
    planned = [Action("window_kill", 0, steps[n % len(steps)]) for n in range(options.window_kills)]
    planned += [
        Action("kill", rng.randrange(options.workers))
        for _ in range(options.kills - options.window_kills)
    ]
    planned += [Action("cut", 0) for _ in range(options.cuts)]
    rng.shuffle(planned)
    return [
        Action(a.kind, a.worker, a.step, settle_s=round(rng.uniform(0.5, 3.0), 2)) for a in planned
    ]


def batches(requests: int, actions: int) -> list[int]:
    """How many requests to publish before each action and after the last (sums to ``requests``).

    Publishing in batches keeps fresh work in flight at every disruption: half up front, the
    rest spread evenly.
    """
    first = requests // 2
    rest = requests - first
    share, extra = divmod(rest, actions or 1)
    tail = [share + (1 if n < extra else 0) for n in range(actions or 1)]
    return [first, *tail] if actions else [requests]

"""What every request run uses, in one value: the ledger, the Platform, events, the breaker."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from worker.broker.reporter import Reporter
from worker.engine.actions import Actions
from worker.engine.breaker import Breaker
from worker.engine.telemetry import Telemetry
from worker.ledger import Ledger


@dataclass(frozen=True)
class Tools:
    """What every request run uses: the ledger, the Platform, events, the breaker, telemetry."""

    ledger: Ledger
    actions: Actions
    reporter: Reporter
    breaker: Breaker
    telemetry: Telemetry
    clock: Callable[[], float] = time.time
    jitter: Callable[[], float] = lambda: 0.5

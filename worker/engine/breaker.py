"""The circuit breaker: stop taking work while the Platform refuses us or is down.

It opens at once on an `AuthenticationError`, and after `threshold` retryable failures in a row
with no success in between (a sustained outage). While it is open the consumer is paused and a
probe runs until the Platform answers; then it closes. Thread-safe; the clock is injected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

DEFAULT_THRESHOLD = 8


class Breaker:
    """Counts consecutive failures and tells listeners when the circuit opens or closes."""

    def __init__(
        self,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        on_change: Callable[[bool, str], None] | None = None,
    ) -> None:
        self._threshold = threshold
        self._on_change = on_change or (lambda _open, _reason: None)
        self._lock = threading.Lock()
        self._failures = 0
        self._open = False
        self.reason = ""

    @property
    def is_open(self) -> bool:
        """True while the worker must not take work."""
        return self._open

    def record_success(self) -> None:
        """A Platform call succeeded: the failure streak ends."""
        with self._lock:
            self._failures = 0

    def record_failure(self) -> bool:
        """A retryable Platform failure; return True when this one opened the circuit."""
        with self._lock:
            self._failures += 1
            opens = self._failures >= self._threshold and not self._open
        if opens:
            self.trip("platform_unavailable")
        return opens

    def trip(self, reason: str) -> None:
        """Open the circuit (idempotent)."""
        with self._lock:
            if self._open:
                return
            self._open = True
            self.reason = reason
        self._on_change(True, reason)

    def close(self) -> None:
        """Close the circuit after a successful probe."""
        with self._lock:
            if not self._open:
                return
            self._open = False
            self._failures = 0
            self.reason = ""
        self._on_change(False, "")

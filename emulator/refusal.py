"""The error the pure request readers raise: what a service refuses, with its own error code."""

from __future__ import annotations


class RefusedRequestError(ValueError):
    """A body or query a service refuses; ``code`` is that service's error code for it."""

    def __init__(self, code: int, message: str) -> None:
        """Refuse with ``code`` and ``message`` (the message is the error's text)."""
        super().__init__(message)
        self.code = code

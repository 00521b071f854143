"""Answers the Platform never changes for a key (a sandbox's tenant id, a flow spec), kept once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LookupCache(Generic[K, V]):
    """Looks each key up once per process; shared by the worker's threads.

    The lookup runs outside the lock, so threads that miss together each look up once and the
    last answer is kept: the answers are the same, and no thread waits on another's request.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._values: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K, look_up: Callable[[], V]) -> V:
        """The kept answer for ``key``, or ``look_up()`` kept for next time."""
        with self._lock:
            if key in self._values:
                return self._values[key]
        value = look_up()
        with self._lock:
            self._values[key] = value
        return value

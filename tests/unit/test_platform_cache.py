"""The lookup cache: each key looked up once; a failed lookup is not kept."""

from __future__ import annotations

from functools import partial

import pytest

from worker.platform.cache import LookupCache


def test_each_key_is_looked_up_once() -> None:
    cache: LookupCache[str, str] = LookupCache()
    calls: list[str] = []

    def upper(key: str) -> str:
        calls.append(key)
        return key.upper()

    answers = [cache.get(key, partial(upper, key)) for key in ("dev", "prod", "dev")]
    assert answers == ["DEV", "PROD", "DEV"]
    assert calls == ["dev", "prod"]


def test_a_failed_lookup_is_tried_again_next_time() -> None:
    cache: LookupCache[str, str] = LookupCache()

    def fail() -> str:
        raise RuntimeError("platform down")

    with pytest.raises(RuntimeError):
        cache.get("dev", fail)
    assert cache.get("dev", lambda: "tenant") == "tenant"

"""Fault settings: validation, seeded decisions, path scoping and the per-org rate limit."""

from __future__ import annotations

import random
from typing import Any

import pytest

from emulator.app import EmulatorConfig
from emulator.faults import (
    Decision,
    Faults,
    FaultSettings,
    FaultSettingsError,
    TokenBucket,
    decide,
    parse_faults,
)


def test_the_full_contract_example_parses() -> None:
    raw = {
        "seed": 42,
        "latency_ms": 50,
        "errors": {"503": 0.10, "500": 0.02},
        "throttle": {"rate": 0.05, "retry_after_s": 1},
        "rate_limit_rps": 100,
        "commit_then_drop": 0.03,
        "run_failure_rate": 0.2,
        "paths": "^/data/foundation/",
    }
    settings = parse_faults(raw)
    assert settings.raw == raw
    assert settings.latency_s == (0.05, 0.05)
    assert settings.errors == ((503, 0.10), (500, 0.02))
    assert settings.retry_after_s == 1
    assert settings.active


def test_no_faults_is_inactive_and_a_latency_range_is_kept() -> None:
    assert not parse_faults({}).active
    assert parse_faults({"latency_ms": [10, 30]}).latency_s == (0.01, 0.03)
    assert parse_faults({"throttle": {"rate": 0.5, "retry_after_s": None}}).retry_after_s is None


@pytest.mark.parametrize(
    "raw",
    [
        {"latency": 5},
        {"latency_ms": -1},
        {"latency_ms": [30, 10]},
        {"latency_ms": [1, 2, 3]},
        {"errors": {"200": 0.1}},
        {"errors": {"503": 1.5}},
        {"errors": {"503": 0.6, "500": 0.6}},
        {"errors": [503]},
        {"throttle": 0.5},
        {"rate_limit_rps": 0},
        {"commit_then_drop": True},
        {"paths": "("},
        {"seed": "x"},
    ],
)
def test_invalid_fault_settings_are_refused_with_a_reason(raw: dict[str, Any]) -> None:
    with pytest.raises(FaultSettingsError):
        parse_faults(raw)


def _draws(settings: FaultSettings, seed: int, n: int = 200) -> list[Decision]:
    rng = random.Random(seed)
    return [decide(settings, rng, "POST") for _ in range(n)]


def test_the_same_seed_replays_the_same_decisions() -> None:
    settings = parse_faults({"errors": {"503": 0.3}, "commit_then_drop": 0.2, "latency_ms": [0, 9]})
    assert _draws(settings, 7) == _draws(settings, 7)
    assert _draws(settings, 7) != _draws(settings, 8)


def test_error_rates_come_out_near_their_probabilities() -> None:
    settings = parse_faults({"errors": {"503": 0.25}, "throttle": {"rate": 0.25}})
    decisions = _draws(settings, 1, 4000)
    throttled = sum(d.status == 429 for d in decisions) / len(decisions)
    failed = sum(d.status == 503 for d in decisions) / len(decisions)
    assert 0.2 < throttled < 0.3
    assert 0.15 < failed < 0.25  # 0.25 of the requests not throttled


def test_only_creates_are_dropped() -> None:
    settings = parse_faults({"commit_then_drop": 1})
    assert decide(settings, random.Random(1), "POST").drop
    assert not decide(settings, random.Random(1), "GET").drop


@pytest.mark.parametrize(
    ("paths", "path", "applies"),
    [
        (None, "/data/foundation/flowservice/flows", True),
        (None, "/ims/token/v3", False),
        (None, "/__emulator/resources", False),
        ("^/ims/", "/ims/token/v3", True),
        ("flowservice", "/data/foundation/catalog/dataSets", False),
        ("^/", "/__emulator/faults", False),
    ],
)
def test_faults_apply_to_the_paths_they_name(paths: str | None, path: str, applies: bool) -> None:
    raw = {"latency_ms": 1} if paths is None else {"latency_ms": 1, "paths": paths}
    assert parse_faults(raw).applies_to(path) is applies


def test_a_token_bucket_lets_a_burst_through_then_asks_to_wait() -> None:
    bucket = TokenBucket(rate=2)
    assert bucket.take() == 0
    assert bucket.take() == 0
    assert bucket.take() > 0


def test_the_rate_limit_is_per_org_and_replacing_settings_empties_the_buckets() -> None:
    faults = Faults({"rate_limit_rps": 1})
    assert faults.rate_limited("org-a") == 0
    assert faults.rate_limited("org-a") > 0
    assert faults.rate_limited("org-b") == 0
    faults.replace({"rate_limit_rps": 1})
    assert faults.rate_limited("org-a") == 0
    faults.replace({})
    assert faults.rate_limited("org-a") == 0


def test_the_latency_flag_joins_the_initial_faults_unless_they_set_their_own() -> None:
    assert EmulatorConfig(latency_ms=50).initial_faults() == {"latency_ms": 50}
    config = EmulatorConfig(latency_ms=50, faults={"latency_ms": 5, "seed": 1})
    assert config.initial_faults() == {"latency_ms": 5, "seed": 1}

"""The chaos run at a small size: the driver behind ``make chaos`` is itself tested.

Thirty requests through the faulty Platform, two workers on PostgreSQL, two SIGKILLs (one in a
create's dangerous window) and one cut of the workers' broker connections: nothing duplicated,
nothing lost, each kill recovered.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.plan import ChaosOptions
from tests.chaos.run import run_chaos, summary

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.timeout(400)
def test_a_small_chaos_run_duplicates_nothing_loses_nothing_and_recovers_from_each_kill(
    rabbitmq_url: str, postgres_url: str, tmp_path: Path
) -> None:
    options = ChaosOptions(requests=30, workers=2, kills=2, window_kills=1, cuts=1, seed=3)
    report = run_chaos(options, tmp_path, rabbitmq_url, postgres_url, say=lambda _: None)
    assert report.verdict is not None
    text = summary(report)
    assert report.verdict.duplicates == (), text
    assert report.verdict.lost == (), text
    assert [kill.kind for kill in report.kills].count("window_kill") == 1, text
    assert report.cuts == 1, text
    assert report.verdict.ok, text

"""The wait before each look at a followed flow's run starts at a configurable first wait."""

from __future__ import annotations

import pytest

from worker.core.follow import MAX_WAIT_SECONDS, wait_seconds


@pytest.mark.parametrize(
    ("first", "round_", "seconds"),
    [(0.5, 1, 0.5), (0.5, 2, 1.0), (0.5, 4, 4.0), (2.0, 3, 8.0), (600.0, 2, MAX_WAIT_SECONDS)],
)
def test_the_first_wait_doubles_each_round_up_to_the_cap(
    first: float, round_: int, seconds: float
) -> None:
    assert wait_seconds(round_, first) == seconds

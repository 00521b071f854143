"""Following the first run of a new dataflow (``follow_runs``) without holding a message (pure).

After ``DataflowCreated`` the request's message is settled by a delayed copy carrying the flow
id. Each time the copy comes back the engine looks at the flow's runs: once the first one
finished, ``DataflowRunCompleted`` is published; until then the copy waits again, longer each
round (16 s, 32 s, ... 1024 s), and after ``MAX_ROUNDS`` (about a day) following stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.core.delivery import ACK, FOLLOW_HEADER, ROUND_HEADER, Settle, delay

FIRST_WAIT_SECONDS = 16.0
MAX_WAIT_SECONDS = 1024.0
MAX_ROUNDS = 100  # with the 1024 s cap: about a day of waiting for the first run


def wait_seconds(round_: int, first: float = FIRST_WAIT_SECONDS) -> float:
    """How long the copy waits before round ``round_`` (``first``, then doubling, capped)."""
    return float(min(first * 2 ** max(round_ - 1, 0), MAX_WAIT_SECONDS))


def follow_settle(flow_id: str, round_: int, first_wait: float = FIRST_WAIT_SECONDS) -> Settle:
    """Settle by a follow copy that looks at the flow's runs in round ``round_``."""
    headers = {FOLLOW_HEADER: flow_id, ROUND_HEADER: round_}
    return delay(wait_seconds(round_, first_wait), "follow", **headers)


def followed(headers: Mapping[str, Any]) -> tuple[str, int] | None:
    """The flow id and round of a follow copy, or None for any other message."""
    flow_id = headers.get(FOLLOW_HEADER)
    if not flow_id:
        return None
    return str(flow_id), int(headers.get(ROUND_HEADER) or 1)


def next_round(flow_id: str, round_: int, first_wait: float = FIRST_WAIT_SECONDS) -> Settle:
    """The first run has not finished: wait another round, or stop following after the last."""
    if round_ >= MAX_ROUNDS:
        return ACK
    return follow_settle(flow_id, round_ + 1, first_wait)

"""Judging a chaos run from what the emulator holds and the events seen (pure).

- **duplicate**: a request with more than one resource of a kind (mapping sets carry no name,
  so any beyond one per request count as duplicates of no request in particular);
- **lost**: a request without exactly one terminal event (one event id; a republished event
  keeps its id), whose terminal event is not ``DataflowCreated``, or without its resources;
- **recovery** of a kill: from the SIGKILL until the killed worker's replacement is ready
  *and* no request the killed worker held a lease on is held by it any more (its lease ran out
  or a live worker took it over), or each has published an event again: nothing waits on the
  dead worker. How soon each then *moves* (its next event) is reported beside it, not judged:
  a request the dead worker held goes back to the end of the queue and waits its turn behind
  the backlog, and under the run's 429s the workers are slow on purpose (each 429's
  ``Retry-After`` pauses a whole worker, docs/adr/0012), so that time measures the backlog and
  the faults, not the recovery.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

NAMED_KINDS = ("sourceConnections", "targetConnections", "flows", "schemas", "dataSets")
TERMINAL = frozenset({"DataflowCreated", "DataflowUpdated", "DataflowDeleted", "DataflowFailed"})


@dataclass
class Kill:
    """One SIGKILL: when, how, which requests the worker held, and when each moved again."""

    kind: str  # "kill" (a random moment) or "window_kill" (a create applied, answer held back)
    at: float  # wall-clock seconds
    slot: int = 0  # which worker
    held: tuple[str, ...] = ()
    step: str | None = None
    request_id: str | None = None  # the request whose create was in its window
    ready_at: float | None = None  # the replacement worker answered /readyz with 200
    progress: dict[str, float] = field(default_factory=dict)  # request -> first event after
    released: dict[str, float] = field(default_factory=dict)  # request -> not the dead's lease
    pid: int = 0  # the killed process

    def recovery_s(self) -> float | None:
        """Seconds from the kill until recovered (see the module docstring); None: never."""
        if self.ready_at is None:
            return None
        first = {
            rid: min(self.progress.get(rid, math.inf), self.released.get(rid, math.inf))
            for rid in self.held
        }
        if any(math.isinf(at) for at in first.values()):
            return None
        return max([self.ready_at, *first.values()]) - self.at

    def moving_s(self) -> float | None:
        """Seconds from the kill until every request it held published an event; None: not yet."""
        if any(rid not in self.progress for rid in self.held):
            return None
        return max([self.at, *self.progress.values()]) - self.at


@dataclass(frozen=True)
class Verdict:
    """The checks of one run."""

    duplicates: tuple[str, ...]
    lost: tuple[str, ...]
    slow_recoveries: tuple[int, ...]  # indexes of kills not recovered within the limit

    @property
    def ok(self) -> bool:
        """True when nothing was duplicated or lost and every kill recovered in time."""
        return not (self.duplicates or self.lost or self.slow_recoveries)


def event_time(event: Mapping[str, Any]) -> float:
    """An event's ``time`` as epoch seconds."""
    return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).timestamp()


def moves_after(event: Mapping[str, Any], arrived: float, kill_at: float) -> bool:
    """Whether an event shows its request moving again after a kill.

    It arrived after the kill and was made after it; a terminal event counts on arrival alone,
    since one published again keeps the time it was first made.
    """
    if arrived < kill_at:
        return False
    return event.get("type") in TERMINAL or event_time(event) >= kill_at


def note_progress(kills: Iterable[Kill], event: Mapping[str, Any], arrived: float) -> None:
    """Record ``event`` as the first sign of life, after a kill, of a request that kill held."""
    request_id = str((event.get("data") or {}).get("request_id"))
    for kill in kills:
        pending = request_id in kill.held and request_id not in kill.progress
        if pending and moves_after(event, arrived, kill.at):
            kill.progress[request_id] = arrived


def tag_of(item: Mapping[str, Any]) -> str | None:
    """The request id in a resource's name or title (``... [<request_id>]``), if any."""
    name = str(item.get("name") or item.get("title") or "")
    if not name.endswith("]") or "[" not in name:
        return None
    return name[name.rindex("[") + 1 : -1]


def judge(
    request_ids: Sequence[str],
    resources: Mapping[str, Sequence[Mapping[str, Any]]],
    terminal: Mapping[str, Sequence[Mapping[str, Any]]],
    kills: Sequence[Kill],
    *,
    recovery_limit_s: float,
) -> Verdict:
    """Duplicates, lost requests and slow recoveries of a finished run."""
    counts: dict[tuple[str, str], int] = {}
    for kind in NAMED_KINDS:
        for item in resources.get(kind, ()):
            key = (kind, tag_of(item) or "")
            counts[key] = counts.get(key, 0) + 1
    flows = {str(item["id"]) for item in resources.get("flows", ())}
    duplicates = [
        f"{rid}: {counts[(kind, rid)]} {kind}"
        for rid in request_ids
        for kind in NAMED_KINDS
        if counts.get((kind, rid), 0) > 1
    ]
    extra_sets = len(resources.get("mappingSets", ())) - len(request_ids)
    if extra_sets > 0:
        duplicates.append(f"{extra_sets} mapping sets more than requests")
    lost = [
        f"{rid}: {problem}"
        for rid in request_ids
        if (problem := _lost(rid, terminal.get(rid, ()), counts, flows))
    ]
    slow = [
        n
        for n, kill in enumerate(kills)
        if (seconds := kill.recovery_s()) is None or seconds > recovery_limit_s
    ]
    return Verdict(tuple(duplicates), tuple(lost), tuple(slow))


def _lost(
    rid: str,
    events: Sequence[Mapping[str, Any]],
    counts: Mapping[tuple[str, str], int],
    flows: set[str],
) -> str | None:
    ids = {event["id"] for event in events}
    if len(ids) != 1:
        return f"{len(ids)} terminal events"
    event = events[0]
    if event["type"] != "DataflowCreated":
        error = (event["data"].get("error") or {}).get("kind")
        return f"ended in {event['type']} ({error})"
    missing = [kind for kind in NAMED_KINDS if not counts.get((kind, rid))]
    if missing or event["data"]["flow_id"] not in flows:
        return f"created without {', '.join(missing) or 'its flow'}"
    return None

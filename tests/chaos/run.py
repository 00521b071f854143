"""The chaos run itself: publish in batches, disrupt, wait for every terminal event, judge."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.plan import (
    WINDOW_CREATES,
    Action,
    ChaosOptions,
    actions,
    batches,
    faults,
    window_faults,
)
from tests.chaos.verdict import Kill, Verdict, judge, tag_of
from tests.chaos.world import ChaosWorld, chaos_world
from tests.integration.harness import unique
from worker.core.text import plural

WINDOW_TIMEOUT_S = 30.0
RECOVERY_WAIT_S = 60.0  # beyond the limit, so a slow recovery is measured rather than cut short
FINISH_TIMEOUT_S = 900.0


@dataclass
class Report:
    """What a run did and found."""

    options: ChaosOptions
    requests: int = 0
    kills: list[Kill] = field(default_factory=list)
    cuts: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    verdict: Verdict | None = None
    wall_s: float = 0.0


def run_chaos(
    options: ChaosOptions,
    log_dir: Path,
    broker_url: str,
    postgres_url: str,
    say: Callable[[str], None] = print,
) -> Report:
    """One whole run; ``say`` hears each disruption as it happens."""
    started = time.monotonic()
    report = Report(options)
    plan = actions(options)
    sizes = batches(options.requests, len(plan))
    with chaos_world(options, log_dir, broker_url, postgres_url, unique("r")) as world:
        world.workers = [world.start_worker() for _ in range(options.workers)]
        world.publish(sizes[0])
        for action, size in zip(plan, sizes[1:], strict=True):
            say(_act(world, action, size))
            if action.kind != "cut":  # a kill not recovered by then is judged, not waited for
                _settle(world, world.recovered, RECOVERY_WAIT_S)
        _settle(world, lambda: _all_ended(world), FINISH_TIMEOUT_S)  # what has not is lost
        world.wait(1.0)  # late duplicates of terminal events, if any, arrive too
        terminal = world.scenario.events.terminal()
        world.emulator.set_faults({})
        report.requests = len(world.request_ids)
        report.kills = world.kills
        report.cuts = world.proxy.cuts
        report.faults = _injected(world)
        report.verdict = judge(
            world.request_ids,
            world.emulator.resources(),
            terminal,
            world.kills,
            recovery_limit_s=options.recovery_limit_s,
        )
    report.wall_s = time.monotonic() - started
    return report


def _act(world: ChaosWorld, action: Action, batch: int) -> str:
    """Publish the next ``batch`` of requests and disrupt them; a line saying what it did."""
    if action.kind == "window_kill":
        assert action.step is not None
        kill = _window_kill(world, action.step, batch)
        return (
            f"killed worker {kill.slot} holding {kill.request_id} inside its {kill.step} window"
            f" ({plural(len(kill.held), 'request')} held)"
        )
    world.publish(batch)
    world.wait(action.settle_s)
    if action.kind == "cut":
        world.proxy.cut()
        return f"cut the workers' broker connections (cut {world.proxy.cuts})"
    if action.kind == "kill":
        slot = _busy_slot(world, action.worker % len(world.workers))
        kill = world.kill(slot, "kill")
    return f"killed worker {slot} at a random moment ({plural(len(kill.held), 'request')} held)"


def _busy_slot(world: ChaosWorld, planned: int) -> int:
    """The planned worker, or another when it holds no request and another does."""
    order = [planned, *(n for n in range(len(world.workers)) if n != planned)]
    return next((n for n in order if world.held_by(world.workers[n])), planned)


def _window_kill(world: ChaosWorld, step: str, batch: int) -> Kill:
    """Hold back the answers of one create, publish; SIGKILL a worker whose create was applied.

    The run's faults apply only to that create's path meanwhile (a few seconds).
    """
    kind, _ = WINDOW_CREATES[step]
    world.emulator.set_faults(window_faults(world.options, step))
    try:
        world.wait(0.3)  # creates that started under the old faults are applied by now
        before = {item["id"] for item in world.emulator.resources().get(kind, [])}
        world.publish(batch)

        def applied_and_held() -> tuple[str, int] | None:
            for item in world.emulator.resources().get(kind, []):
                rid = tag_of(item)
                if item["id"] not in before and rid is not None:
                    slot = world.owner_of(rid)
                    if slot is not None:
                        return rid, slot
            return None

        rid, slot = _wait(world, applied_and_held, WINDOW_TIMEOUT_S, f"a {step} create")
        return world.kill(slot, "window_kill", step=step, request_id=rid)
    finally:
        world.emulator.set_faults(faults(world.options))


def _wait(world: ChaosWorld, condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Tick until ``condition`` holds; fail saying ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        world.wait(0.1)
    return value


def _settle(world: ChaosWorld, condition: Callable[[], Any], timeout: float) -> None:
    """Tick until ``condition`` holds or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        world.wait(0.1)


def _all_ended(world: ChaosWorld) -> bool:
    """True when every request published has a terminal event."""
    return set(world.request_ids) <= set(world.scenario.events.terminal())


def _injected(world: ChaosWorld) -> dict[str, int]:
    """The faults the emulator injected, by kind."""
    answer: dict[str, int] = world.emulator.http.get("/__emulator/faults/injected").json()
    return answer


def summary(report: Report) -> str:
    """The printed summary of a run."""
    verdict = report.verdict
    assert verdict is not None
    lines = [
        f"requests: {report.requests}  workers: {report.options.workers}  "
        f"seed: {report.options.seed}",
        f"kills: {len(report.kills)} "
        f"({sum(k.kind == 'window_kill' for k in report.kills)} in a create's window)",
    ]
    for n, kill in enumerate(report.kills, start=1):
        where = f"in the {kill.step} window of {kill.request_id}" if kill.step else "at random"
        lines.append(
            f"  kill {n} (worker {kill.slot}) {where}: {plural(len(kill.held), 'request')} held,"
            f" recovered in {_seconds(kill.recovery_s())}, all moving again in"
            f" {_seconds(kill.moving_s())}"
        )
    lines += [
        f"cuts: {report.cuts}",
        "faults injected: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(report.faults.items())),
        f"duplicates: {len(verdict.duplicates)}",
        *(f"  {line}" for line in verdict.duplicates),
        f"lost: {len(verdict.lost)}",
        *(f"  {line}" for line in verdict.lost),
        f"wall time: {report.wall_s:.0f} s",
        f"result: {_result(report)}",
    ]
    return "\n".join(lines)


def _result(report: Report) -> str:
    verdict = report.verdict
    assert verdict is not None
    reasons = [
        f"{len(verdict.duplicates)} duplicated" if verdict.duplicates else "",
        f"{len(verdict.lost)} lost" if verdict.lost else "",
        f"{len(verdict.slow_recoveries)} kills not recovered within "
        f"{report.options.recovery_limit_s:.0f} s"
        if verdict.slow_recoveries
        else "",
    ]
    return "PASS" if verdict.ok else "FAIL: " + ", ".join(r for r in reasons if r)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"

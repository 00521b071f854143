"""``python -m bench`` (``make bench``): run every benchmark and print its report."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

import bench

QUIET_IDLE = 0.9  # the share of CPU time idle over a second that counts as a quiet machine
QUIET_WAIT_SECONDS = 90  # the longest wait for it


def idle_share(seconds: float = 1.0) -> float:
    """The share of the machine's CPU time spent idle over the next ``seconds``."""

    def read() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    idle_before, total_before = read()
    time.sleep(seconds)
    idle_after, total_after = read()
    return (idle_after - idle_before) / max(total_after - total_before, 1)


def wait_for_quiet() -> None:
    """Before a benchmark, wait until what the previous one left running has settled (database
    vacuum, the broker deleting queues): each measures on a machine as idle as the first."""
    started = time.monotonic()
    idle = idle_share()
    while idle < QUIET_IDLE and time.monotonic() - started < QUIET_WAIT_SECONDS:
        idle = idle_share()
    waited = time.monotonic() - started
    print(f"(machine {idle:.0%} idle after waiting {waited:.0f} s)")


def main() -> int:
    """Run each ``bench/bench_*.py`` module's ``main()`` in turn."""
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    if not names:
        print("no benchmarks yet")
        return 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n## {name}")
        wait_for_quiet()
        module.main()
    return 0


sys.exit(main())

"""A backlog of 10,000 requests, queued before the worker starts: memory and throughput over it.

The requests are published first; then one worker (SQLite ledger, 32 in flight, 0 ms latency)
starts and works through them. Sampled every half second: the worker's resident memory and the
terminal events so far. Targets (issue 12): every request created; resident memory at most
150 MB at its peak, and at the end at most 1.2 x its value after the first thousand; the
throughput over the last thousand at least 0.8 x the first thousand.

Numbers, not pass/fail; results in ``bench/results/backlog.json``.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from bench import results
from bench.support import (
    BROKER_URL,
    Sampler,
    TerminalCounter,
    emulator_process,
    memory_mb,
    prepared_requests,
    publish,
    reachable,
    start_worker,
)
from tests.integration.harness import delete_topology

REQUESTS = 10_000
CONCURRENCY = 32
WINDOW = 1_000  # the first and the last thousand


def window_rate(arrivals: list[float], start: int, count: int) -> float:
    """Dataflows per second between the ``start``-th terminal event and ``count`` later ones
    (the worker's start-up is left out of the first window, as the drain of the last)."""
    return (count - 1) / (arrivals[start + count - 1] - arrivals[start])


def rss_after(samples: list[tuple[float, float, int]], finished: int) -> float:
    """The resident memory sampled when ``finished`` requests had ended."""
    return next(rss for _, rss, done in samples if done >= finished)


def main() -> None:
    """Queue the backlog, run one worker through it, print and write the figures."""
    if not reachable(5672):
        print("skipped: RabbitMQ is not reachable on 127.0.0.1:5672")
        return
    prefix = f"backlog{uuid.uuid4().hex[:8]}"
    with (
        tempfile.TemporaryDirectory(prefix="bench-backlog-") as directory,
        emulator_process(Path(directory), request_log=1000) as emulator,
    ):
        log_dir = Path(directory)
        prepared = prepared_requests(emulator, prefix, REQUESTS)
        counter = TerminalCounter(prefix)
        try:
            publish(prefix, prepared)  # all queued before any worker runs
            state_url = f"sqlite:///{log_dir / 'backlog.db'}"
            started = time.time()
            worker = start_worker(log_dir, prefix, emulator, state_url, CONCURRENCY)
            with Sampler(worker.pid, counter) as sampler:
                counter.wait(REQUESTS, timeout=1800)
            end_rss, peak_rss = memory_mb(worker.pid)
            worker.stop()
        finally:
            counter.close()
            delete_topology(BROKER_URL, prefix)
    arrivals = counter.arrivals
    first = window_rate(arrivals, 0, WINDOW)
    last = window_rate(arrivals, REQUESTS - WINDOW, WINDOW)
    after_first = rss_after(sampler.samples, WINDOW)
    print(
        f"{REQUESTS} queued requests, one worker at {CONCURRENCY} in flight, 0 ms latency: "
        f"{counter.created} created, {counter.failed} failed (target: all created) in "
        f"{arrivals[-1] - started:.1f} s"
    )
    print(
        f"resident memory: peak {peak_rss:.0f} MB (target <= 150), after the first {WINDOW} "
        f"{after_first:.0f} MB, at the end {end_rss:.0f} MB = {end_rss / after_first:.2f} x "
        "(target <= 1.2)"
    )
    print(
        f"throughput: first {WINDOW} {first:.0f}/s, last {WINDOW} {last:.0f}/s = "
        f"{last / first:.2f} x (target >= 0.8)"
    )
    results.write(
        "backlog",
        {
            "requests": REQUESTS,
            "concurrency": CONCURRENCY,
            "created": counter.created,
            "failed": counter.failed,
            "seconds": round(arrivals[-1] - started, 2),
            "peak_rss_mb": round(peak_rss, 1),
            "rss_after_first_thousand_mb": round(after_first, 1),
            "end_rss_mb": round(end_rss, 1),
            "end_over_first_thousand": round(end_rss / after_first, 3),
            "first_thousand_per_second": round(first, 1),
            "last_thousand_per_second": round(last, 1),
            "last_over_first": round(last / first, 3),
            "samples": [
                {"seconds": round(t - started, 2), "rss_mb": round(rss, 1), "finished": done}
                for t, rss, done in sampler.samples
            ],
            "targets": {"peak_rss_mb": 150, "end_over_first": 1.2, "last_over_first": 0.8},
        },
    )


if __name__ == "__main__":
    main()

"""The worker end to end: throughput against a slow Platform, CPU per dataflow, one alone.

Everything is real and separate, as in production: RabbitMQ on loopback, the emulator in its own
process, the worker as ``python -m worker run`` with a SQLite ledger, then (when reachable) a
fresh PostgreSQL database. Per ledger:

* 600 requests at 50 ms emulator latency with ``DATAFLOW_CONCURRENCY=32``: the wall time from
  the first Platform call to the last terminal event; ``k``, the Platform calls per dataflow as
  the emulator counted them; the six-call floor ``N * 6 * L / C`` (a worker that made its six
  calls one after another, C dataflows at a time, could not be faster) and the wall time's
  share of it (target <= 1 / 1.15); the floor of the critical path of parallel steps
  (``N * 4 * L / C``: schema, dataset, target connection, flow; the source connection and the
  mapping set run beside them).
* 1,000 requests at 0 ms latency: the worker process's CPU time (user + system, read from
  ``/proc/<pid>/stat``) from publishing to the last terminal event, per dataflow (target <= 4 ms).
* One dataflow at a time at 100 ms latency, five times: publish to ``DataflowCreated`` (target
  <= 5 x L: four round trips on the critical path, plus the worker's own time).

Numbers, not pass/fail. On a shared two-core machine the emulator, RabbitMQ and the worker
compete for the same cores, which the wall times include.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import results
from bench.support import (
    CRITICAL_PATH_CALLS,
    Run,
    emulator_process,
    measure,
    postgres_ledger,
    reachable,
)

REQUESTS = 600  # at 50 ms latency
CPU_REQUESTS = 1000  # at 0 ms latency
ALONE_RUNS = 5  # one dataflow at a time, at 100 ms latency
CONCURRENCY = 32
LATENCY_MS = 50
ALONE_LATENCY_MS = 100


def report(label: str, slow: Run, fast: Run, alone: list[Run]) -> dict[str, object]:
    """Print one ledger's figures, each beside its target; return them for the results."""
    six_call_floor = slow.requests * 6 * (LATENCY_MS / 1000) / CONCURRENCY
    path_floor = slow.requests * CRITICAL_PATH_CALLS * (LATENCY_MS / 1000) / CONCURRENCY
    ratio = slow.wall_seconds / six_call_floor
    cpu_ms = 1000 * fast.cpu_seconds / fast.requests
    print(
        f"[{label}] {slow.requests} dataflows at {LATENCY_MS} ms latency, concurrency "
        f"{CONCURRENCY}: wall {slow.wall_seconds:.2f} s (from publishing: "
        f"{slow.from_publish_seconds:.2f} s), {slow.failed} failed"
    )
    print(f"[{label}] k = {slow.k:.2f} Platform calls per dataflow (target <= 6.1)")
    print(
        f"[{label}] six-call floor N*6*L/C = {six_call_floor:.2f} s; wall / floor = "
        f"{ratio:.2f} (target <= {1 / 1.15:.2f}); critical-path "
        f"floor N*{CRITICAL_PATH_CALLS}*L/C = {path_floor:.2f} s"
    )
    print(
        f"[{label}] worker CPU at 0 ms latency, {fast.requests} dataflows: "
        f"{cpu_ms:.2f} ms per dataflow (target <= 4); "
        f"at {LATENCY_MS} ms: {1000 * slow.cpu_seconds / slow.requests:.2f} ms; "
        f"0 ms wall {fast.wall_seconds:.2f} s, {fast.failed} failed"
    )
    times = sorted(run.from_publish_seconds for run in alone)
    median = times[len(times) // 2]
    print(
        f"[{label}] one dataflow alone at {ALONE_LATENCY_MS} ms latency, publish to "
        f"DataflowCreated: median {1000 * median:.0f} ms of {len(times)} "
        f"({', '.join(f'{1000 * t:.0f}' for t in times)}) (target <= "
        f"{5 * ALONE_LATENCY_MS} ms = 5 x L)"
    )
    return {
        "slow": slow.summary(),
        "six_call_floor_seconds": round(six_call_floor, 3),
        "critical_path_floor_seconds": round(path_floor, 3),
        "wall_over_six_call_floor": round(ratio, 3),
        "fast": fast.summary(),
        "cpu_ms_per_dataflow": round(cpu_ms, 2),
        "alone_latency_ms": ALONE_LATENCY_MS,
        "alone_ms": [round(1000 * t) for t in times],
        "alone_median_ms": round(1000 * median),
    }


def main() -> None:
    """Run the measurements for each ledger, print the report and write the results."""
    if not reachable(5672):
        print("skipped: RabbitMQ is not reachable on 127.0.0.1:5672")
        return
    figures: dict[str, object] = {
        "targets": {"wall_over_six_call_floor": round(1 / 1.15, 3), "cpu_ms": 4, "alone_ms": 500}
    }
    with (
        tempfile.TemporaryDirectory(prefix="bench-worker-") as directory,
        emulator_process(Path(directory)) as emulator,
        postgres_ledger() as postgres,
    ):
        log_dir = Path(directory)
        for label, state_url in (("sqlite", None), ("postgresql", postgres)):
            if label == "postgresql" and state_url is None:
                print("[postgresql] skipped: not reachable on 127.0.0.1:5432")
                continue
            slow = measure(
                log_dir,
                emulator,
                requests=REQUESTS,
                latency_ms=LATENCY_MS,
                concurrency=CONCURRENCY,
                state_url=state_url,
            )
            fast = measure(
                log_dir,
                emulator,
                requests=CPU_REQUESTS,
                latency_ms=0,
                concurrency=CONCURRENCY,
                state_url=state_url,
            )
            alone = [
                measure(
                    log_dir,
                    emulator,
                    requests=1,
                    latency_ms=ALONE_LATENCY_MS,
                    concurrency=CONCURRENCY,
                    state_url=state_url,
                )
                for _ in range(ALONE_RUNS)
            ]
            figures[label] = report(label, slow, fast, alone)
    results.write("worker", figures)


if __name__ == "__main__":
    main()

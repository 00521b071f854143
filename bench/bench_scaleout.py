"""Scale-out: four worker processes on one PostgreSQL ledger against one.

Each worker runs 16 dataflows at a time (``DATAFLOW_CONCURRENCY=16``); one worker creates
``N`` dataflows, four workers ``4 N``, from one queue and one ledger. Target (issue 12), at 50 ms
latency: four at least 3.2 x the throughput of one, or a statement of what limits them,
measured. So beside each run this prints the CPU every party spent per dataflow (the workers,
the emulator, RabbitMQ, PostgreSQL, from ``/proc``) and how busy the machine's cores were: the
cores a throughput needs are throughput x CPU per dataflow, and when that exceeds the machine,
the machine is the limit, not the workers. The same pair at 200 ms latency, where four workers
need fewer cores than the machine has, shows how the workers themselves scale.

Numbers, not pass/fail; results in ``bench/results/scaleout.json``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from bench import results
from bench.support import (
    CRITICAL_PATH_CALLS,
    Run,
    emulator_process,
    measure,
    postgres_ledger,
    reachable,
)
from emulator.testing import Emulator

CONCURRENCY = 16
PER_WORKER = 400
LATENCIES_MS = (50, 200)
WORKERS = (1, 4)


def _cpu_times() -> tuple[float, float]:
    """Busy and total jiffies of all cores together (``/proc/stat``'s first line)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return float(sum(values) - idle), float(sum(values))


def run_once(log_dir: Path, emulator: Emulator, workers: int, latency_ms: int) -> dict[str, Any]:
    """One run on a fresh ledger: its figures, CPU per dataflow by party, cores busy."""
    with postgres_ledger() as state_url:
        if state_url is None:
            raise RuntimeError("PostgreSQL is not reachable on 127.0.0.1:5432")
        machine = _cpu_times()
        run: Run = measure(
            log_dir,
            emulator,
            requests=PER_WORKER * workers,
            latency_ms=latency_ms,
            concurrency=CONCURRENCY,
            state_url=state_url,
            workers=workers,
        )
        machine_after = _cpu_times()
    cores = os.cpu_count() or 1
    busy = (machine_after[0] - machine[0]) / max(machine_after[1] - machine[1], 1e-9) * cores
    per_dataflow = {"workers": 1000 * run.cpu_seconds / run.requests}
    used = run.service_cpu_seconds
    per_dataflow.update({name: 1000 * seconds / run.requests for name, seconds in used.items()})
    total = sum(per_dataflow.values())
    ceiling = workers * CONCURRENCY / (CRITICAL_PATH_CALLS * latency_ms / 1000)
    print(
        f"{latency_ms} ms, {workers} worker(s) x {CONCURRENCY}: {run.requests} dataflows, "
        f"{run.throughput:.1f}/s of at most {ceiling:.0f}/s, {run.failed} failed; CPU per "
        f"dataflow {total:.1f} ms ("
        + ", ".join(f"{name} {ms:.1f}" for name, ms in per_dataflow.items())
        + f"); cores busy {busy:.2f} of {cores}, {run.throughput * total / 1000:.2f} needed"
    )
    return {
        **run.summary(),
        "ceiling_per_second": round(ceiling, 1),
        "cpu_ms_per_dataflow_by_party": {k: round(v, 2) for k, v in per_dataflow.items()},
        "cpu_ms_per_dataflow_total": round(total, 2),
        "cores_busy": round(busy, 2),
        "cores_needed": round(run.throughput * total / 1000, 2),
    }


def main() -> None:
    """One worker, then four, at each latency; print and write the figures."""
    if not reachable(5672) or not reachable(5432):
        print("skipped: RabbitMQ (5672) and PostgreSQL (5432) must be reachable on 127.0.0.1")
        return
    cores = os.cpu_count() or 1
    pairs = []
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as directory:
        log_dir = Path(directory)
        with emulator_process(log_dir, request_log=50_000) as emulator:
            for latency_ms in LATENCIES_MS:
                one, many = (run_once(log_dir, emulator, w, latency_ms) for w in WORKERS)
                ratio = many["throughput_per_second"] / one["throughput_per_second"]
                print(f"{latency_ms} ms: 4 workers / 1 worker = {ratio:.2f} x (target >= 3.2)")
                needed = one["cpu_ms_per_dataflow_total"] * 4 * one["ceiling_per_second"] / 1000
                if needed > cores:
                    print(
                        f"{latency_ms} ms: four workers at their ceiling would need "
                        f"{needed:.1f} cores at {one['cpu_ms_per_dataflow_total']:.1f} ms CPU "
                        f"per dataflow; this machine has {cores}: the machine is the limit"
                    )
                pairs.append(
                    {"latency_ms": latency_ms, "one": one, "four": many, "ratio": round(ratio, 3)}
                )
    results.write(
        "scaleout",
        {"concurrency": CONCURRENCY, "cores": cores, "pairs": pairs, "target_ratio": 3.2},
    )


if __name__ == "__main__":
    main()

"""Two workers sharing one organisation's rate limit, with the adaptive limit and without.

The emulator limits the organisation to ``LIMIT_RPS`` calls per second (its ``rate_limit_rps``:
a token bucket; a 429 with ``Retry-After`` beyond it) and answers after ``LATENCY_MS``. Two
worker processes on one PostgreSQL ledger create ``REQUESTS`` dataflows, once with the adaptive
limit (docs/adr/0012-adaptive-concurrency.md) and once fixed at its maximum
(``DATAFLOW_PLATFORM_ADAPTIVE_CONCURRENCY=false``), side by side in one run.

Per run, counted on the emulator's side (its request log): successful (non-429) Platform calls
per second from the first call to the last terminal event, the share of calls answered 429, and
successful calls per dataflow created. Targets (issue 12): at least 0.9 x the limit per second,
at most 10% answered 429, at most 6.2 successful calls per dataflow. Results in
``bench/results/rate_limit.json``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench import results
from bench.support import Run, emulator_process, measure, postgres_ledger, reachable
from emulator.testing import Emulator

LIMIT_RPS = 40
LATENCY_MS = 50
REQUESTS = 300
WORKERS = 2
CONCURRENCY = 16
TARGETS = {
    "successful_per_second": 0.9 * LIMIT_RPS,
    "throttled_share": 0.10,
    "calls_per_dataflow": 6.2,
}
RUNS = (("adaptive", "true"), ("fixed", "false"))


def figures(label: str, run: Run) -> dict[str, Any]:
    """The figures of one run, as the plots and pages read them."""
    successful = run.platform_calls - run.throttled
    created = run.requests - run.failed
    return {
        "label": label,
        "successful_per_second": round(successful / run.wall_seconds, 2),
        "throttled_share": round(run.throttled / max(run.platform_calls, 1), 4),
        "calls_per_dataflow": round(successful / max(created, 1), 2),
        "created": created,
        "wall_seconds": round(run.wall_seconds, 2),
        "platform_calls": run.platform_calls,
    }


def run_once(log_dir: Path, emulator: Emulator, label: str, adaptive: str) -> dict[str, Any]:
    """One run on a fresh ledger; print its figures beside the targets."""
    with postgres_ledger() as state_url:
        if state_url is None:
            raise RuntimeError("PostgreSQL is not reachable on 127.0.0.1:5432")
        shared = {"rate_limit_rps": LIMIT_RPS}  # one organisation: both workers' bucket
        run = measure(
            log_dir,
            emulator,
            workers=WORKERS,
            concurrency=CONCURRENCY,
            requests=REQUESTS,
            state_url=state_url,
            latency_ms=LATENCY_MS,
            faults=shared,
            platform_adaptive_concurrency=adaptive,
        )
    result = figures(label, run)
    print(
        f"{label}: {result['created']} of {REQUESTS} created in {result['wall_seconds']} s; "
        f"{result['successful_per_second']:.1f} successful calls/s "
        f"(target >= {TARGETS['successful_per_second']:.0f}), "
        f"{result['throttled_share']:.1%} answered 429 "
        f"(target <= {TARGETS['throttled_share']:.0%}), "
        f"{result['calls_per_dataflow']:.2f} successful calls per dataflow "
        f"(target <= {TARGETS['calls_per_dataflow']})"
    )
    return result


def main() -> None:
    """The adaptive run, then the fixed one; print and write the figures."""
    if not reachable(5672) or not reachable(5432):
        print("skipped: RabbitMQ (5672) and PostgreSQL (5432) must be reachable on 127.0.0.1")
        return
    with tempfile.TemporaryDirectory(prefix="bench-rate-limit-") as directory:
        log_dir = Path(directory)
        with emulator_process(log_dir, request_log=50_000) as emulator:
            runs = [run_once(log_dir, emulator, label, adaptive) for label, adaptive in RUNS]
    results.write(
        "rate_limit",
        {
            "limit_rps": LIMIT_RPS,
            "latency_ms": LATENCY_MS,
            "requests": REQUESTS,
            "workers": WORKERS,
            "concurrency": CONCURRENCY,
            "runs": runs,
            "targets": TARGETS,
        },
    )


if __name__ == "__main__":
    main()

"""``python -m tests.chaos``: the chaos run at the size asked; exit 1 when a check fails."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from tests.chaos.plan import ChaosOptions
from tests.chaos.run import run_chaos, summary
from tests.services import POSTGRES_URL, RABBITMQ_URL


def parse(argv: list[str]) -> tuple[ChaosOptions, Path | None]:
    """The options of a run, and where to keep the logs (None: a temporary directory)."""
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs in all")
    parser.add_argument("--window-kills", type=int, default=2, help="of them inside a window")
    parser.add_argument("--cuts", type=int, default=2, help="broker connection cuts")
    parser.add_argument("--seed", type=int, help="the faults' and the plan's (default: random)")
    parser.add_argument("--concurrency", type=int, default=8, help="per worker")
    parser.add_argument("--log-dir", type=Path, help="keep the processes' logs here")
    args = parser.parse_args(argv)
    sizes = {key: value for key, value in vars(args).items() if key != "log_dir"}
    if sizes["seed"] is None:
        sizes["seed"] = random.randrange(1, 1_000_000)
    return ChaosOptions(**sizes), args.log_dir


def main(argv: list[str] | None = None) -> int:
    """Run, print the summary, and answer 0 only when every check passed."""
    options, log_dir = parse(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="chaos-") as scratch:
        logs = log_dir or Path(scratch)
        logs.mkdir(parents=True, exist_ok=True)
        print(f"chaos run: logs in {logs}", flush=True)
        report = run_chaos(
            options, logs, RABBITMQ_URL, POSTGRES_URL, say=lambda line: print(line, flush=True)
        )
        print(summary(report), flush=True)
    assert report.verdict is not None
    return 0 if report.verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())

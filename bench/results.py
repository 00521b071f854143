"""Benchmark results as JSON under ``bench/results/``: what the plots and docs are made from.

Each benchmark writes one file named after it, with the machine it ran on, when, and its figures;
``python -m bench.report`` turns the files into ``docs/benchmarks.md`` and its plots.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def write(name: str, figures: dict[str, Any]) -> Path:
    """Write ``figures`` as ``bench/results/<name>.json`` with where and when they were measured."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        **figures,
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def read(name: str) -> dict[str, Any] | None:
    """The committed results of one benchmark, or None before it ever ran."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def machine() -> dict[str, Any]:
    """What the figures depend on: cores, memory, Python."""
    memory_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "system": platform.system(),
    }

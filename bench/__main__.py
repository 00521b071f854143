"""``python -m bench`` (``make bench``): run every benchmark and print its report."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


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
        module.main()
    return 0


sys.exit(main())

"""``python -m bench.report``: the plots and ``docs/benchmarks.md`` from ``bench/results/*.json``.

``make bench`` runs every benchmark (each writes its JSON), then this. The page and README's
headline figures (between ``<!-- benchmarks:begin -->`` and ``<!-- benchmarks:end -->``) are
rendered from the same files, and a test checks that what is committed equals what they render,
so the figures users read are the ones measured.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench import plots, results
from bench.pages import benchmarks_page, headline

ROOT = Path(__file__).parents[1]
PAGE = ROOT / "docs" / "benchmarks.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"


def load() -> dict[str, dict[str, Any]]:
    """Every committed result, by benchmark name."""
    found = {}
    for path in sorted(results.RESULTS.glob("*.json")):
        document = results.read(path.stem)
        if document is not None:
            found[path.stem] = document
    return found


def readme_with(block: str, readme: str) -> str:
    """README's text with the headline block replaced."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:start] + "\n" + block + readme[end:]


def main() -> int:
    """Draw the plots, write the page, update README's headline figures."""
    found = load()
    if not found:
        print("no results yet: run `make bench` first")
        return 1
    for path in plots.draw_all(found, results.RESULTS):
        print(f"{path.relative_to(ROOT)}: written")
    PAGE.write_text(benchmarks_page(found), encoding="utf-8")
    print(f"{PAGE.relative_to(ROOT)}: written")
    README.write_text(readme_with(headline(found), README.read_text(encoding="utf-8")))
    print(f"{README.relative_to(ROOT)}: headline figures updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())

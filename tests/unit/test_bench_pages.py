"""The published benchmark figures are the measured ones: docs and README rendered from results."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import report
from bench.pages import benchmarks_page, headline
from bench.plots import PLOTS

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def found() -> dict[str, dict[str, object]]:
    results = report.load()
    if not results:
        pytest.skip("no committed benchmark results (bench/results/*.json): run `make bench`")
    return results


def test_the_benchmarks_page_is_what_the_committed_results_render(
    found: dict[str, dict[str, object]],
) -> None:
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert page == benchmarks_page(found), "run `python -m bench.report` after `make bench`"


def test_readme_quotes_the_committed_figures(found: dict[str, dict[str, object]]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == report.readme_with(headline(found), readme)


def test_every_plot_of_a_result_is_committed(found: dict[str, dict[str, object]]) -> None:
    for name in found:
        if name in PLOTS:
            assert (ROOT / "bench" / "results" / PLOTS[name]).is_file(), PLOTS[name]

"""``docs/benchmarks.md`` and README's headline figures, rendered from the results (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.plots import PLOTS

Results = Mapping[str, Mapping[str, Any]]
PLOT_DIR = "../bench/results"  # from docs/


def _mark(value: float, target: float, *, at_most: bool) -> str:
    met = value <= target if at_most else value >= target
    return "met" if met else "**not met**"


def headline(found: Results) -> str:
    """README's headline figures: a few lines, each with what it was measured against."""
    lines = []
    concurrency = found.get("concurrency")
    if concurrency:
        best = max(concurrency["points"], key=lambda p: p["throughput_per_second"])
        lines.append(
            f"- {best['throughput_per_second']:.0f} dataflows per second from one worker at "
            f"{best['concurrency']} in flight and {concurrency['latency_ms']} ms per Platform "
            f"call: {best['times_sequential']:.0f} x the tutorial's calls made one after another "
            f"({concurrency['sequential_per_second']:.1f}/s)."
        )
    worker = found.get("worker")
    if worker and "sqlite" in worker:
        sqlite = worker["sqlite"]
        lines.append(
            f"- {sqlite['cpu_ms_per_dataflow']:.1f} ms of worker CPU per dataflow (SQLite ledger); "
            f"one dataflow alone takes {sqlite['alone_median_ms']} ms at "
            f"{sqlite['alone_latency_ms']} ms per call (four round trips on its critical path)."
        )
    rate = found.get("rate_limit")
    if rate:
        adaptive = rate["runs"][0]
        lines.append(
            f"- Two workers sharing a limit of {rate['limit_rps']} calls per second use "
            f"{adaptive['successful_per_second'] / rate['limit_rps']:.0%} of it with "
            f"{adaptive['throttled_share']:.0%} of calls throttled."
        )
    backlog = found.get("backlog")
    if backlog:
        lines.append(
            f"- A backlog of {backlog['requests']:,} requests: peak {backlog['peak_rss_mb']:.0f} "
            f"MB resident, the last thousand at {backlog['last_over_first']:.2f} x the first "
            "thousand's rate."
        )
    lines.append(
        "- Measured on a shared 2-core machine by `make bench`; every figure, its target and "
        "the command: [docs/benchmarks.md](docs/benchmarks.md)."
    )
    return "\n".join(lines) + "\n"


def benchmarks_page(found: Results) -> str:
    """The whole page."""
    parts = [
        "# Benchmarks\n",
        "Measured by `make bench` (every `bench/bench_*.py`, then `python -m bench.report`, which "
        "draws the plots and writes this page from `bench/results/*.json`; do not edit it by "
        "hand). Everything runs for real on one machine: RabbitMQ, PostgreSQL, the emulator in "
        "its own process and each worker as `python -m worker run`. The machine is shared and "
        "has two cores, which the emulator, RabbitMQ, the database and the workers compete for; "
        "figures are ratios measured side by side in one run where they compare things.\n",
        _machine(found),
    ]
    for section in (_concurrency, _worker, _rate_limit, _backlog, _scaleout):
        text = section(found)
        if text:
            parts.append(text)
    return "\n".join(parts)


def _machine(found: Results) -> str:
    first = next(iter(found.values()))
    m = first["machine"]
    dates = sorted(document["measured_at"] for document in found.values())
    return (
        f"Machine: {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']} on "
        f"{m['system']}; measured between {dates[0]} and {dates[-1]}.\n"
    )


def _table(*header: str, rows: str) -> str:
    """A Markdown table after a blank line: the header, its rule, the rows."""
    return "\n| " + " | ".join(header) + " |\n|" + " --- |" * len(header) + "\n" + rows + "\n"


def _plot(name: str, alt: str) -> str:
    return f"![{alt}]({PLOT_DIR}/{PLOTS[name]})\n"


def _concurrency(found: Results) -> str:
    result = found.get("concurrency")
    if not result:
        return ""
    rows = "\n".join(
        f"| {p['concurrency']} | {p['requests']} | {p['throughput_per_second']:.1f} | "
        f"{p['ceiling_per_second']:.1f} | {p['share_of_ceiling']:.2f} | "
        f"{p['times_sequential']:.1f} | {p['platform_calls_per_dataflow']:.2f} |"
        for p in result["points"]
    )
    return (
        "## Throughput against concurrency\n\n"
        f"`python -m bench.bench_concurrency`: one worker, SQLite ledger, "
        f"{result['latency_ms']} ms per Platform call, 8 C dataflows per point. A dataflow "
        f"needs {result['critical_path_calls']} round trips one after another (schema, dataset, "
        "target connection, flow; the source connection and the mapping set run beside them), "
        f"so C at a time make at most C / ({result['critical_path_calls']} L) per second: "
        "the ceiling (its time for N is the floor N k L / C). The baseline is the tutorial's "
        "seven calls one after another per table, made with the project's own client: "
        f"{result['sequential_per_second']:.2f} dataflows per second.\n\n"
        + _plot("concurrency", "throughput against concurrency")
        + _table(
            "C",
            "dataflows",
            "per second",
            "ceiling",
            "share of ceiling",
            "x sequential",
            "calls per dataflow",
            rows=rows,
        )
    )


def _worker(found: Results) -> str:
    result = found.get("worker")
    if not result:
        return ""
    targets = result["targets"]
    rows = []
    for ledger in ("sqlite", "postgresql"):
        if ledger not in result:
            continue
        r = result[ledger]
        rows.append(
            f"| {ledger} | {r['cpu_ms_per_dataflow']:.2f} "
            f"({_mark(r['cpu_ms_per_dataflow'], targets['cpu_ms'], at_most=True)}) | "
            f"{r['slow']['wall_seconds']:.2f} s / {r['six_call_floor_seconds']:.2f} s = "
            f"{r['wall_over_six_call_floor']:.2f} "
            f"({_mark(r['wall_over_six_call_floor'], targets['wall_over_six_call_floor'], at_most=True)}) | "  # noqa: E501
            f"{r['alone_median_ms']} ms "
            f"({_mark(r['alone_median_ms'], targets['alone_ms'], at_most=True)}) |"
        )
    return (
        "## The worker: CPU per dataflow, a slow Platform, one dataflow alone\n\n"
        "`python -m bench.bench_worker`: 1,000 dataflows at 0 ms latency, 32 in flight (the "
        "worker process's CPU time per dataflow, target <= "
        f"{targets['cpu_ms']} ms); 600 at 50 ms latency, 32 in flight (wall time against the "
        "six-call floor N 6 L / C, target <= "
        f"{targets['wall_over_six_call_floor']:.2f}); one dataflow alone at 100 ms latency, "
        f"five times (publish to `DataflowCreated`, median, target <= {targets['alone_ms']} ms "
        "= 5 L).\n\n"
        + _plot("worker", "CPU per dataflow")
        + "\n| ledger | CPU ms per dataflow | 600 at 50 ms: wall / floor | alone at 100 ms |\n"
        "| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )


def _rate_limit(found: Results) -> str:
    result = found.get("rate_limit")
    if not result:
        return ""
    rows = "\n".join(
        f"| {run['label']} | {run['successful_per_second']:.1f} "
        f"({run['successful_per_second'] / result['limit_rps']:.0%} of the limit) | "
        f"{run['throttled_share']:.1%} | {run['calls_per_dataflow']:.2f} | {run['created']} |"
        for run in result["runs"]
    )
    return (
        "## Two workers sharing one rate limit\n\n"
        f"`python -m bench.bench_rate_limit`: two workers on one PostgreSQL ledger, "
        f"{result['requests']} requests, the emulator limiting the organisation to "
        f"{result['limit_rps']} calls per second (its `rate_limit_rps`, a token bucket; 429 with "
        f"`Retry-After` beyond it) at {result['latency_ms']} ms per call. Targets: at least "
        f"{0.9 * result['limit_rps']:.0f} successful calls per second, at most 10% answered "
        "429, at most 6.2 successful calls per dataflow.\n\n"
        + _plot("rate_limit", "share of the rate limit used")
        + _table(
            "run",
            "successful calls per second",
            "answered 429",
            "successful calls per dataflow",
            "created",
            rows=rows,
        )
    )


def _backlog(found: Results) -> str:
    r = found.get("backlog")
    if not r:
        return ""
    t = r["targets"]
    return (
        "## A backlog of 10,000 requests\n\n"
        "`python -m bench.bench_backlog`: every request queued before the worker starts; one "
        f"worker, SQLite ledger, {r['concurrency']} in flight, 0 ms latency.\n\n"
        + _plot("backlog", "memory and progress over the backlog")
        + "\n| figure | measured | target |\n| --- | --- | --- |\n"
        f"| created | {r['created']:,} of {r['requests']:,} ({r['failed']} failed) | all |\n"
        f"| peak resident memory | {r['peak_rss_mb']:.0f} MB "
        f"({_mark(r['peak_rss_mb'], t['peak_rss_mb'], at_most=True)}) | "
        f"<= {t['peak_rss_mb']} MB |\n"
        f"| memory at the end / after the first thousand | {r['end_rss_mb']:.0f} / "
        f"{r['rss_after_first_thousand_mb']:.0f} MB = {r['end_over_first_thousand']:.2f} "
        f"({_mark(r['end_over_first_thousand'], t['end_over_first'], at_most=True)}) | "
        f"<= {t['end_over_first']} |\n"
        f"| rate of the last thousand / the first | {r['last_thousand_per_second']:.0f} / "
        f"{r['first_thousand_per_second']:.0f} per second = {r['last_over_first']:.2f} "
        f"({_mark(r['last_over_first'], t['last_over_first'], at_most=False)}) | "
        f">= {t['last_over_first']} |\n"
        f"| whole backlog | {r['seconds']:.0f} s | |\n"
    )


def _scaleout(found: Results) -> str:
    r = found.get("scaleout")
    if not r:
        return ""
    rows = []
    for pair in r["pairs"]:
        for key, label in (("one", "1"), ("four", "4")):
            run = pair[key]
            parties = ", ".join(
                f"{name} {ms:.1f}" for name, ms in run["cpu_ms_per_dataflow_by_party"].items()
            )
            rows.append(
                f"| {pair['latency_ms']} ms | {label} | {run['throughput_per_second']:.1f} of "
                f"{run['ceiling_per_second']:.0f} | {run['cpu_ms_per_dataflow_total']:.1f} "
                f"({parties}) | {run['cores_busy']:.2f} |"
            )
    ratios = "; ".join(
        f"{pair['latency_ms']} ms: {pair['ratio']:.2f} x "
        f"({_mark(pair['ratio'], r['target_ratio'], at_most=False)})"
        for pair in r["pairs"]
    )
    return (
        "## Scale-out on one PostgreSQL ledger\n\n"
        "`python -m bench.bench_scaleout`: one worker, then four, each 16 in flight, on a "
        f"fresh PostgreSQL ledger. Four workers against one: {ratios} (target >= "
        f"{r['target_ratio']} at 50 ms). The CPU every party spends per dataflow says what "
        "limits a run: the cores a throughput needs are the throughput times that CPU, and "
        f"this machine has {r['cores']}. Where four workers at their ceiling would need more "
        "cores than that, the machine, not the workers, is the limit; at 200 ms latency they "
        "need fewer, and the workers scale on their own.\n\n"
        + _plot("scaleout", "scale-out")
        + "\n| latency | workers | dataflows per second of ceiling | CPU ms per dataflow (by "
        "party) | cores busy |\n| --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )

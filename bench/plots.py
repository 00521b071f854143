"""The benchmark plots (PNG, matplotlib), drawn from the results' JSON documents."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

Results = Mapping[str, Mapping[str, Any]]
PLOTS = {
    "concurrency": "throughput-vs-concurrency.png",
    "worker": "cpu-per-dataflow.png",
    "rate_limit": "rate-limit-share.png",
    "backlog": "backlog.png",
    "scaleout": "scaleout.png",
}


def draw_all(found: Results, directory: Path) -> list[Path]:
    """Every plot whose results exist, written into ``directory``; their paths."""
    drawers: dict[str, Callable[[Mapping[str, Any], Path], None]] = {
        "concurrency": concurrency,
        "worker": cpu,
        "rate_limit": rate_limit,
        "backlog": backlog,
        "scaleout": scaleout,
    }
    written = []
    for name, draw in drawers.items():
        if name in found:
            path = directory / PLOTS[name]
            draw(found[name], path)
            written.append(path)
    return written


def _save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})  # no version: reproducible bytes
    plt.close(figure)


def concurrency(result: Mapping[str, Any], path: Path) -> None:
    """Throughput against concurrency, its critical-path ceiling, the sequential baseline."""
    points = result["points"]
    xs = [p["concurrency"] for p in points]
    figure, axes = plt.subplots(figsize=(7, 4.2))
    axes.plot(xs, [p["throughput_per_second"] for p in points], "o-", label="dataflow-worker")
    axes.plot(
        xs,
        [p["ceiling_per_second"] for p in points],
        "--",
        label=f"ceiling C / ({result['critical_path_calls']} L): critical path",
    )
    axes.axhline(
        result["sequential_per_second"],
        color="grey",
        linestyle=":",
        label="the tutorial's 7 calls, one after another",
    )
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xticks(xs, [str(x) for x in xs])
    axes.set_xlabel("dataflows in flight (DATAFLOW_CONCURRENCY)")
    axes.set_ylabel("dataflows per second")
    axes.set_title(f"Throughput at {result['latency_ms']} ms per Platform call (one worker)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    _save(figure, path)


def cpu(result: Mapping[str, Any], path: Path) -> None:
    """The worker's CPU per dataflow at 0 ms latency, per ledger, beside the target."""
    labels = [name for name in ("sqlite", "postgresql") if name in result]
    values = [result[name]["cpu_ms_per_dataflow"] for name in labels]
    figure, axes = plt.subplots(figsize=(5, 3.4))
    axes.bar(labels, values, color=["#4c72b0", "#55a868"][: len(labels)])
    axes.axhline(result["targets"]["cpu_ms"], color="red", linestyle="--", label="target")
    for index, value in enumerate(values):
        axes.annotate(f"{value:.2f} ms", (index, value), ha="center", va="bottom")
    axes.set_ylabel("worker CPU ms per dataflow")
    axes.set_title("CPU per dataflow, 0 ms latency, 32 in flight")
    axes.legend(fontsize=8)
    _save(figure, path)


def rate_limit(result: Mapping[str, Any], path: Path) -> None:
    """Successful calls per second of two workers against the limit, with and without AIMD."""
    runs = result["runs"]
    labels = [run["label"] for run in runs]
    figure, axes = plt.subplots(figsize=(6, 3.6))
    axes.bar(labels, [run["successful_per_second"] for run in runs], color="#4c72b0")
    axes.axhline(result["limit_rps"], color="red", linestyle="--", label="the organisation's limit")
    for index, run in enumerate(runs):
        share = run["successful_per_second"] / result["limit_rps"]
        note = f"{share:.0%} used, {run['throttled_share']:.0%} 429"
        top = max(run["successful_per_second"], result["limit_rps"])  # above the limit's line
        axes.annotate(note, (index, top), xytext=(0, 4), textcoords="offset points", ha="center")
    axes.set_ylim(0, result["limit_rps"] * 1.25)  # room for the notes above the limit's line
    axes.set_ylabel("successful Platform calls per second")
    axes.set_title("Two workers sharing one rate limit")
    axes.legend(fontsize=8, loc="lower right")
    _save(figure, path)


def backlog(result: Mapping[str, Any], path: Path) -> None:
    """Resident memory and requests finished over a 10,000-request backlog."""
    samples = result["samples"]
    seconds = [s["seconds"] for s in samples]
    figure, memory = plt.subplots(figsize=(7, 3.8))
    memory.plot(seconds, [s["rss_mb"] for s in samples], color="#c44e52", label="resident MB")
    memory.axhline(result["targets"]["peak_rss_mb"], color="#c44e52", linestyle="--", alpha=0.5)
    memory.set_ylim(0, max(result["targets"]["peak_rss_mb"] * 1.1, result["peak_rss_mb"] * 1.1))
    memory.set_xlabel("seconds since the worker started")
    memory.set_ylabel("worker resident memory, MB")
    done = memory.twinx()
    done.plot(seconds, [s["finished"] for s in samples], color="#4c72b0", label="finished")
    done.set_ylabel("requests finished")
    memory.set_title(f"A backlog of {result['requests']:,} requests, one worker")
    _save(figure, path)


def scaleout(result: Mapping[str, Any], path: Path) -> None:
    """Throughput of one and four workers, per latency, with the cores the runs kept busy."""
    pairs = result["pairs"]
    figure, axes = plt.subplots(figsize=(6.5, 3.8))
    width = 0.38
    for offset, key, label in ((-width / 2, "one", "1 worker"), (width / 2, "four", "4 workers")):
        xs = [index + offset for index in range(len(pairs))]
        values = [pair[key]["throughput_per_second"] for pair in pairs]
        axes.bar(xs, values, width, label=label)
        for x, pair in zip(xs, pairs, strict=True):
            axes.annotate(f"{pair[key]['cores_busy']:.1f} cores", (x, 0), ha="center", va="bottom")
    axes.set_xticks(
        range(len(pairs)),
        [f"{p['latency_ms']} ms: {p['ratio']:.2f} x" for p in pairs],
    )
    axes.set_ylabel("dataflows per second")
    axes.set_title(f"Scale-out on one PostgreSQL ledger ({result['cores']} cores)")
    axes.legend(fontsize=8)
    _save(figure, path)

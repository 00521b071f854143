"""The demo's pure parts: its requests, its settings, the progress total and the result table."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from worker.commands.demo import result_table
from worker.onboarding.demo import (
    DemoResult,
    TableOutcome,
    demo_settings,
    load_requests,
    planned_steps,
)
from worker.onboarding.requests import prepare


def test_the_shipped_sample_is_put_on_the_demo_base_connection() -> None:
    items = load_requests(None, "base-42")
    assert 8 <= len(items) <= 12
    assert {item.payload["source"]["base_connection_id"] for item in items} == {"base-42"}
    assert any(item.payload.get("mapping_mode") == "auto" for item in items)


def test_the_progress_total_counts_each_requests_planned_steps() -> None:
    items = load_requests(None, "base-1")
    prepared, _ = prepare(items, source="urn:t")
    auto = sum(1 for item in items if item.payload.get("mapping_mode") == "auto")
    assert planned_steps(prepared, items) == 7 * (len(items) - auto) + 8 * auto


def test_the_demo_settings_ignore_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATAFLOW_BROKER_URL", "amqp://elsewhere:5672//")
    monkeypatch.setenv("DATAFLOW_STATE_URL", "postgresql://elsewhere/db")
    settings = demo_settings("http://127.0.0.1:9", tmp_path, 4)
    assert settings.broker_url == "memory://"
    assert settings.state_url == f"sqlite:///{tmp_path / 'demo-state.db'}"
    assert settings.platform_url == settings.ims_url == "http://127.0.0.1:9"
    assert settings.concurrency == 4
    assert settings.topology_prefix.startswith("demo-")


def test_the_result_table_and_summary_show_every_table() -> None:
    result = DemoResult(
        tables=[
            TableOutcome("public.customers", "c", "created", "flow-1", 8),
            TableOutcome("public.orders", "o", "failed: rejected", None, 3, "mapping_set: bad"),
        ],
        seconds=3.25,
        platform_calls=90,
        faults_injected=9,
    )
    console = Console(width=200, record=True, color_system=None)
    console.print(result_table(result))
    text = console.export_text()
    assert "flow-1" in text
    assert "failed: rejected (mapping_set: bad)" in text
    assert not result.succeeded
    assert result.summary().startswith("1 dataflow created, 1 failed in 3.2 s; 90 Platform calls")

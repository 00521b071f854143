"""``dataflow-worker publish``: validation before publishing, wrapping, and the command's output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from messages import decode
from tests.integration.samples import sample_request
from worker.cli import cli
from worker.commands.publish import unpublished_summary
from worker.onboarding.manifest import ManifestItem, parse_manifest
from worker.onboarding.requests import Prepared, prepare, publish_all, worker_source

SOURCE = "urn:dataflow-worker:test-host"


def item(payload: dict[str, Any], location: str = "item 1") -> ManifestItem:
    """A manifest item as the reader produces it."""
    return ManifestItem(location=location, payload=payload)


def event_of(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A whole CloudEvent carrying ``data``."""
    event = {
        "specversion": "1.0",
        "id": "producer-event-1",
        "source": "urn:crm-sync",
        "type": "DataflowRequested",
        "time": "2026-11-29T07:00:00Z",
        "subject": data.get("request_id"),
        "datacontenttype": "application/json",
        "data": data,
    }
    event.update(changes)
    return event


def test_the_worker_source_names_the_host() -> None:
    assert worker_source("box-1") == "urn:dataflow-worker:box-1"


def test_a_data_object_is_wrapped_in_a_new_request_event() -> None:
    (ready,), invalid = prepare([item(sample_request("crm-1", "base-1"))], source=SOURCE)
    assert invalid == []
    event = decode(ready.body)
    assert event.type == "DataflowRequested"
    assert event.source == SOURCE
    assert event.id == ready.event_id
    assert event.subject == "crm-1"
    assert ready.request_id == "crm-1"


def test_a_whole_cloud_event_is_sent_as_it_is() -> None:
    original = event_of(sample_request("crm-2", "base-1"))
    (ready,), invalid = prepare([item(original)], source=SOURCE)
    assert invalid == []
    assert ready.event_id == "producer-event-1"
    assert json.loads(ready.body) == original


@pytest.mark.parametrize(
    ("payload", "paths"),
    [
        (sample_request("crm-3", "base-1", name=""), ["name"]),
        ({**sample_request("crm-4", "base-1"), "mapings": []}, ["mapings"]),
        (
            sample_request("bad id!", "base-1", schedule={"frequency": "minute", "interval": 5}),
            ["request_id", "schedule"],
        ),
        (event_of(sample_request("crm-5", "base-1"), type="DataflowCreated"), ["data"]),
        (event_of(sample_request("crm-6", "base-1"), specversion="0.3"), ["specversion"]),
    ],
)
def test_every_invalid_request_is_reported_with_its_field_paths(
    payload: dict[str, Any], paths: list[str]
) -> None:
    prepared, (problem,) = prepare([item(payload, "line 7")], source=SOURCE)
    assert prepared == []
    assert problem.location == "line 7"
    for path in paths:
        assert any(violation.startswith(path) for violation in problem.violations), problem
    assert problem.line().startswith("invalid line 7")


def test_a_request_id_repeated_with_other_content_is_invalid_but_an_exact_repeat_is_not() -> None:
    first = sample_request("crm-7", "base-1")
    changed = sample_request("crm-7", "base-1", name="other name")
    prepared, invalid = prepare(
        [item(first, "item 1"), item(first, "item 2"), item(changed, "item 3")], source=SOURCE
    )
    assert [ready.location for ready in prepared] == ["item 1", "item 2"]
    assert [problem.location for problem in invalid] == ["item 3"]
    assert "first at item 1" in invalid[0].violations[0]


class RecordingSink:
    """Collects what would be published, in order."""

    def __init__(self) -> None:
        self.published: list[tuple[bytes, str, str | None]] = []
        self.types: list[str] = []

    def publish_request(self, body: bytes, **properties: Any) -> None:
        """Record one publish: the body, event id, request id, and the type apart."""
        self.published.append((body, properties["event_id"], properties["request_id"]))
        self.types.append(properties.get("event_type", "DataflowRequested"))


def test_publish_all_sends_every_request_in_order_and_reports_each() -> None:
    prepared = [Prepared(f"item {n}", f"crm-{n}", f"e-{n}", b"{}") for n in range(3)]
    sink, seen = RecordingSink(), list[Prepared]()
    assert publish_all(sink, prepared, seen.append) == 3
    assert [request_id for _, _, request_id in sink.published] == ["crm-0", "crm-1", "crm-2"]
    assert seen == prepared


def test_each_command_is_published_with_its_own_type() -> None:
    commands = [
        Prepared("item 1", "crm-1", "e-1", b"{}"),
        Prepared("deletion", "crm-2", "e-2", b"{}", "DataflowDeletionRequested"),
    ]
    sink = RecordingSink()
    publish_all(sink, commands)
    assert sink.types == ["DataflowRequested", "DataflowDeletionRequested"]


def test_the_sample_manifest_is_entirely_valid() -> None:
    path = Path(__file__).resolve().parents[2] / "worker" / "onboarding" / "samples" / "shop.yaml"
    items = parse_manifest(path.read_text(encoding="utf-8"), name=str(path))
    prepared, invalid = prepare(items, source=SOURCE)
    assert invalid == []
    assert 8 <= len(prepared) <= 12


def test_an_invalid_file_publishes_nothing_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    good, bad = sample_request("crm-8", "base-1"), sample_request("crm-9", "base-1", name="")
    path.write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["publish", str(path)], env={"DATAFLOW_BROKER_URL": "amqp://127.0.0.1:1//"}
    )
    assert result.exit_code == 1
    assert "invalid line 2 crm-9: name:" in result.output
    assert result.output.endswith(
        "nothing published: 1 request invalid, 1 valid "
        "(fix the invalid ones, or publish the valid ones with --skip-invalid)\n"
    )


def test_a_dry_run_validates_without_a_broker(tmp_path: Path) -> None:
    path = tmp_path / "requests.json"
    path.write_text(json.dumps([sample_request("crm-10", "base-1")]), encoding="utf-8")
    result = CliRunner().invoke(cli, ["publish", "--dry-run", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 request valid, 0 invalid; nothing published" in result.output


@pytest.mark.parametrize(
    ("valid", "invalid", "dry_run", "line"),
    [
        (2, 0, True, "2 requests valid, 0 invalid; nothing published"),
        (1, 1, True, "1 request valid, 1 invalid; nothing published"),
        (0, 1, False, "nothing published: 1 request invalid, none valid"),
        (0, 3, False, "nothing published: 3 requests invalid, none valid"),
        (2, 1, False, "nothing published: 1 request invalid, 2 valid (fix the invalid ones, "
                      "or publish the valid ones with --skip-invalid)"),
    ],
)  # fmt: skip
def test_the_summary_of_an_unpublished_file_counts_in_words(
    valid: int, invalid: int, dry_run: bool, line: str
) -> None:
    assert unpublished_summary(valid, invalid, dry_run=dry_run) == line


def test_an_unreadable_file_exits_2_with_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["publish", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "no such file" in result.output

"""`publish` against a real RabbitMQ: topology first, confirms, the contract's AMQP properties."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu
import pytest
from click.testing import CliRunner

from tests.integration.harness import delete_topology, unique
from tests.integration.samples import sample_request
from worker.cli import cli

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(rabbitmq_url: str) -> Iterator[str]:
    """A fresh topology prefix, deleted afterwards."""
    name = unique("tpub")
    yield name
    delete_topology(rabbitmq_url, name)


def queued(broker_url: str, queue: str) -> list[Any]:
    """Take every message from a queue."""
    messages = []
    with kombu.Connection(broker_url) as connection:
        bound = kombu.Queue(queue).bind(connection.channel())
        while (message := bound.get(no_ack=True)) is not None:
            messages.append(message)
    return messages


def invoke(args: list[str], broker_url: str, prefix: str, stdin: str | None = None) -> Any:
    """Run the CLI with this test's broker and prefix."""
    env = {"DATAFLOW_BROKER_URL": broker_url, "DATAFLOW_TOPOLOGY_PREFIX": prefix}
    return CliRunner().invoke(cli, args, env=env, input=stdin)


def test_a_yaml_file_is_published_to_the_requests_queue_with_the_contract_properties(
    rabbitmq_url: str, prefix: str, tmp_path: Path
) -> None:
    path = tmp_path / "requests.yaml"
    requests = [sample_request("crm-1", "base-1"), sample_request("crm-2", "base-1")]
    path.write_text(json.dumps(requests), encoding="utf-8")  # JSON is YAML too
    result = invoke(["publish", str(path)], rabbitmq_url, prefix)
    assert result.exit_code == 0, result.output
    assert result.output.count("published crm-") == 2
    messages = queued(rabbitmq_url, f"{prefix}.requests")
    assert [m.properties["correlation_id"] for m in messages] == ["crm-1", "crm-2"]
    first = messages[0]
    body = json.loads(first.body)
    assert first.content_type == "application/cloudevents+json"
    assert first.properties["delivery_mode"] == 2
    assert first.properties["message_id"] == body["id"]
    assert first.properties["type"] == "DataflowRequested"
    assert body["source"].startswith("urn:dataflow-worker:")
    assert body["data"]["request_id"] == "crm-1"


def test_whole_cloud_events_from_stdin_keep_their_id_and_source(
    rabbitmq_url: str, prefix: str
) -> None:
    event = {
        "specversion": "1.0",
        "id": "crm-sync-77",
        "source": "urn:crm-sync",
        "type": "DataflowRequested",
        "time": "2026-11-29T07:00:00Z",
        "datacontenttype": "application/json",
        "data": sample_request("crm-3", "base-1"),
    }
    result = invoke(["publish", "-"], rabbitmq_url, prefix, stdin=json.dumps(event) + "\n")
    assert result.exit_code == 0, result.output
    [message] = queued(rabbitmq_url, f"{prefix}.requests")
    assert json.loads(message.body) == event
    assert message.properties["message_id"] == "crm-sync-77"


def test_skip_invalid_publishes_the_valid_ones_and_still_exits_1(
    rabbitmq_url: str, prefix: str, tmp_path: Path
) -> None:
    path = tmp_path / "requests.jsonl"
    lines = [sample_request("crm-4", "base-1"), {"request_id": "crm-5"}]
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    result = invoke(["publish", "--skip-invalid", str(path)], rabbitmq_url, prefix)
    assert result.exit_code == 1
    assert "invalid line 2 crm-5: name: Field required" in result.output
    assert [m.properties["correlation_id"] for m in queued(rabbitmq_url, f"{prefix}.requests")] == [
        "crm-4"
    ]


def test_an_unreachable_broker_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(sample_request("crm-6", "base-1")), encoding="utf-8")
    result = invoke(["publish", str(path)], "amqp://guest:guest@127.0.0.1:1//", "tpub-none")
    assert result.exit_code == 2  # a configuration error: check DATAFLOW_BROKER_URL
    assert result.output.startswith("error: ")
    assert result.output.count("\n") == 1

"""``dlq list`` and ``dlq replay`` against a real RabbitMQ parking lot and a SQLite ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu
import pytest
from click.testing import CliRunner

from messages import content_hash, decode, encode, new_event, validate_request
from tests import ledger_ops as ops
from tests.integration.harness import delete_topology, unique
from tests.integration.samples import sample_request
from worker.broker.publisher import Outgoing, Publisher
from worker.broker.topology import Topology
from worker.cli import cli
from worker.config import BrokerTarget
from worker.ledger import open_ledger

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(rabbitmq_url: str) -> Iterator[str]:
    """A fresh topology prefix, declared, and deleted afterwards."""
    name = unique("tdlq")
    yield name
    delete_topology(rabbitmq_url, name)


def park(publisher: Publisher, body: bytes, **headers: str) -> None:
    """Put a message in the parking lot the way the worker does."""
    publisher.publish(
        Outgoing(
            body=body,
            exchange="",
            routing_key=publisher.topology.dead_queue,
            headers={f"x-dataflow-{k.replace('_', '-')}": v for k, v in headers.items()},
            mandatory=True,
        )
    )


def queue_depth(broker_url: str, name: str) -> int:
    """How many messages wait in a queue."""
    with kombu.Connection(broker_url) as connection:
        _, count, _ = connection.channel().queue_declare(name, passive=True)
        return int(count)


@pytest.fixture
def parked(rabbitmq_url: str, prefix: str, tmp_path: Path) -> dict[str, Any]:
    """Three parked messages: a failed request, an unreadable one, a conflicting duplicate."""
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    request = validate_request(sample_request("crm-1", "base-1"))
    other = validate_request(sample_request("crm-2", "base-1"))
    with open_ledger(state_url) as ledger:
        claim = ledger.claim("crm-1", content_hash(request), "{}", "e-1", "w", 60)
        assert claim.fence is not None
        ops.record_intent(ledger, "crm-1", claim.fence, "source_connection", "crm (source) [crm-1]")
        ops.complete_step(
            ledger, "crm-1", claim.fence, "source_connection", "src-1", "created", 1, 0.1
        )
        ops.record_intent(ledger, "crm-1", claim.fence, "target_connection", "crm (target) [crm-1]")
        error = {"kind": "rejected", "message": "dataset deleted", "status": 400}
        ops.fail_step(ledger, "crm-1", claim.fence, "target_connection", error, 1)
        ops.finish(ledger, "crm-1", claim.fence, "failed", b"{}", error)
    publisher = Publisher(BrokerTarget(rabbitmq_url), Topology(prefix))
    publisher.start()
    try:
        park(
            publisher,
            encode(new_event(request, source="urn:t")),
            reason="rejected",
            error="dataset deleted",
            request_id="crm-1",
        )
        park(publisher, b"{not json", reason="invalid_message", error="the body is not JSON")
        park(
            publisher,
            encode(new_event(other, source="urn:t")),
            reason="conflict",
            error="other content",
            request_id="crm-2",
        )
    finally:
        publisher.close()
    env = {
        "DATAFLOW_BROKER_URL": rabbitmq_url,
        "DATAFLOW_TOPOLOGY_PREFIX": prefix,
        "DATAFLOW_STATE_URL": state_url,
    }
    return {"env": env, "state_url": state_url, "request": request}


def listed(env: dict[str, str]) -> list[dict[str, Any]]:
    """The rows of ``dlq list --json``."""
    result = CliRunner().invoke(cli, ["dlq", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


def test_listing_twice_shows_the_same_messages_in_the_same_order_and_consumes_none(
    parked: dict[str, Any], rabbitmq_url: str, prefix: str
) -> None:
    first, second = listed(parked["env"]), listed(parked["env"])
    assert first == second
    assert [(row["request_id"], row["reason"]) for row in first] == [
        ("crm-1", "rejected"),
        (None, "invalid_message"),
        ("crm-2", "conflict"),
    ]
    assert queue_depth(rabbitmq_url, f"{prefix}.dead") == 3


def test_the_table_lists_reasons_for_people(parked: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli, ["dlq", "list"], env=parked["env"])
    assert result.exit_code == 0, result.output
    assert "3 parked" in result.output
    assert "dataset deleted" in result.output


def test_replay_reopens_the_ledger_republishes_and_removes_only_that_message(
    parked: dict[str, Any], rabbitmq_url: str, prefix: str
) -> None:
    result = CliRunner().invoke(cli, ["dlq", "replay", "crm-1"], env=parked["env"])
    assert result.exit_code == 0, result.output
    assert "crm-1: replayed: re-driven from target_connection" in result.output
    with open_ledger(parked["state_url"]) as ledger:
        record = ledger.get("crm-1")
    assert record is not None
    assert record.status == "pending"
    assert record.step("source_connection").resource_id == "src-1"
    assert [row["reason"] for row in listed(parked["env"])] == ["invalid_message", "conflict"]
    with kombu.Connection(rabbitmq_url) as connection:
        queue = kombu.Queue(f"{prefix}.requests").bind(connection.channel())
        message = queue.get(no_ack=True)
    assert message is not None
    assert decode(message.body).data == parked["request"]


def test_unreadable_messages_and_conflicts_are_never_replayed(
    parked: dict[str, Any], rabbitmq_url: str, prefix: str
) -> None:
    result = CliRunner().invoke(cli, ["dlq", "replay", "--all", "crm-9"], env=parked["env"])
    assert result.exit_code == 2  # usage: ids and --all together
    result = CliRunner().invoke(cli, ["dlq", "replay", "crm-2", "crm-9"], env=parked["env"])
    assert result.exit_code == 1
    assert "crm-2: not replayed: a conflicting duplicate" in result.output
    assert "crm-9: not replayed: not in the parking lot" in result.output
    assert queue_depth(rabbitmq_url, f"{prefix}.dead") == 3


def test_drop_removes_every_message_of_a_request_and_leaves_the_ledger_alone(
    parked: dict[str, Any], rabbitmq_url: str, prefix: str
) -> None:
    result = CliRunner().invoke(cli, ["dlq", "drop", "crm-1"], env=parked["env"])
    assert result.exit_code == 0, result.output
    assert "crm-1: dropped (rejected: dataset deleted)" in result.output
    assert "1 parked message dropped" in result.output
    assert [row["reason"] for row in listed(parked["env"])] == ["invalid_message", "conflict"]
    with open_ledger(parked["state_url"]) as ledger:
        record = ledger.get("crm-1")
    assert record is not None
    assert record.status == "failed"
    with kombu.Connection(rabbitmq_url) as connection:
        queue = kombu.Queue(f"{prefix}.requests").bind(connection.channel())
        assert queue.get(no_ack=True) is None  # nothing was re-published


def test_drop_by_position_takes_an_unreadable_message_and_reports_what_it_did_not_find(
    parked: dict[str, Any], rabbitmq_url: str, prefix: str
) -> None:
    args = ["dlq", "drop", "--position", "2", "crm-9", "--position", "7"]
    result = CliRunner().invoke(cli, args, env=parked["env"])
    assert result.exit_code == 1
    assert "#2: dropped (invalid_message: the body is not JSON)" in result.output
    assert "crm-9: not in the parking lot" in result.output
    assert "#7: not in the parking lot" in result.output
    assert result.output.endswith("error: 2 of those given are not in the parking lot\n")
    assert [row["request_id"] for row in listed(parked["env"])] == ["crm-1", "crm-2"]


def test_drop_without_a_request_id_or_position_is_a_usage_error(
    parked: dict[str, Any], rabbitmq_url: str, prefix: str
) -> None:
    result = CliRunner().invoke(cli, ["dlq", "drop"], env=parked["env"])
    assert result.exit_code == 2
    assert queue_depth(rabbitmq_url, f"{prefix}.dead") == 3


def test_purge_asks_first_and_keeps_everything_when_the_answer_is_no(
    parked: dict[str, Any], rabbitmq_url: str, prefix: str
) -> None:
    result = CliRunner().invoke(cli, ["dlq", "purge"], env=parked["env"], input="n\n")
    assert result.exit_code == 1
    assert f"Remove all 3 parked messages from {prefix}.dead for good?" in result.output
    assert queue_depth(rabbitmq_url, f"{prefix}.dead") == 3


@pytest.mark.parametrize(("args", "answer"), [(["--yes"], None), ([], "y\n")])
def test_purge_empties_the_parking_lot_with_yes_or_a_confirmation(
    parked: dict[str, Any], rabbitmq_url: str, prefix: str, args: list[str], answer: str | None
) -> None:
    result = CliRunner().invoke(cli, ["dlq", "purge", *args], env=parked["env"], input=answer)
    assert result.exit_code == 0, result.output
    assert f"purged 3 parked messages from {prefix}.dead" in result.output
    assert queue_depth(rabbitmq_url, f"{prefix}.dead") == 0
    again = CliRunner().invoke(cli, ["dlq", "purge", "--yes"], env=parked["env"])
    assert again.output == f"the parking lot {prefix}.dead is empty\n"

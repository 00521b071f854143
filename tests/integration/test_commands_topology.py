"""``topology show`` and ``topology delete`` against a real RabbitMQ."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kombu
import pytest
from click.testing import CliRunner, Result

from tests.integration.harness import delete_topology, unique
from tests.integration.samples import sample_request
from tests.integration.worker_support import publish_request, request_publisher
from worker.broker.topology import Topology
from worker.cli import cli

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(rabbitmq_url: str) -> Iterator[str]:
    """A declared topology holding one request; whatever a test leaves is deleted afterwards."""
    name = unique("ttop")
    with request_publisher(rabbitmq_url, name) as publisher:
        publish_request(publisher, sample_request("crm-top-1", "base-1"))
    yield name
    delete_topology(rabbitmq_url, name)


def topology(args: list[str], rabbitmq_url: str, answer: str | None = None) -> Result:
    """Run ``topology ARGS`` on this broker."""
    env = {"DATAFLOW_BROKER_URL": rabbitmq_url}
    return CliRunner().invoke(cli, ["topology", *args], env=env, input=answer)


def existing(rabbitmq_url: str, prefix: str) -> list[str]:
    """The queues and exchanges of the prefix that exist, found by passive declares."""
    found = []
    with kombu.Connection(rabbitmq_url) as connection:
        for name in Topology(prefix).entity_names():
            channel = connection.channel()
            try:
                if name.endswith(("commands", "events")):
                    channel.exchange_declare(name, "topic", passive=True)
                else:
                    channel.queue_declare(name, passive=True)
                found.append(name)
            except connection.channel_errors:
                pass
    return found


def test_show_lists_every_queue_with_its_messages_and_creates_nothing(
    rabbitmq_url: str, prefix: str
) -> None:
    result = topology(["show", "--prefix", prefix], rabbitmq_url)
    assert result.exit_code == 0, result.output
    [requests] = [line for line in result.output.splitlines() if f"{prefix}.requests " in line]
    assert requests.split("│")[3].strip() == "1"  # one message waits
    ghost = unique("tnone")
    absent = topology(["show", "--prefix", ghost], rabbitmq_url)
    assert absent.output.count("absent") == len(Topology(ghost).entity_names())
    assert existing(rabbitmq_url, ghost) == []


def test_delete_asks_first_names_what_is_lost_and_keeps_everything_on_no(
    rabbitmq_url: str, prefix: str
) -> None:
    result = topology(["delete", "--prefix", prefix], rabbitmq_url, answer="n\n")
    assert result.exit_code == 1
    assert f"Delete the topology of prefix '{prefix}' on amqp://guest:***@" in result.output
    assert f"13 queues holding 1 message ({prefix}.requests 1), which are lost" in result.output
    assert len(existing(rabbitmq_url, prefix)) == 15


@pytest.mark.parametrize(("args", "answer"), [(["--yes"], None), ([], "y\n")])
def test_delete_removes_every_queue_and_exchange_of_the_prefix(
    rabbitmq_url: str, prefix: str, args: list[str], answer: str | None
) -> None:
    result = topology(["delete", "--prefix", prefix, *args], rabbitmq_url, answer=answer)
    assert result.exit_code == 0, result.output
    assert f"deleted 13 queues (1 message) and 2 exchanges of prefix '{prefix}'" in result.output
    assert existing(rabbitmq_url, prefix) == []
    again = topology(["delete", "--prefix", prefix, "--yes"], rabbitmq_url)
    assert again.output == f"nothing to delete: no exchange or queue of prefix '{prefix}' exists\n"


def test_delete_refuses_while_a_worker_consumes_and_deletes_nothing(
    rabbitmq_url: str, prefix: str
) -> None:
    with kombu.Connection(rabbitmq_url) as connection:
        channel: Any = connection.channel()
        channel.basic_consume(f"{prefix}.requests", callback=lambda message: None)
        result = topology(["delete", "--prefix", prefix, "--yes"], rabbitmq_url)
    assert result.exit_code == 1
    assert f"error: {prefix}.requests (consumers: 1): stop the workers of prefix" in result.output
    assert len(existing(rabbitmq_url, prefix)) == 15

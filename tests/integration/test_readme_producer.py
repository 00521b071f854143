"""README's examples for producers work as written: the request validates, the kombu code publishes.

The JSON block marked ``<!-- request-example -->`` must decode as a valid ``DataflowRequested``;
the Python block marked ``<!-- producer-example -->`` is run against the real RabbitMQ (on a
topology prefix of its own) and must put a message on the requests queue that the worker's
decoder reads, with the AMQP properties of contract section 2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from messages import DataflowRequested
from messages.codec import decode_command
from tests.integration.harness import delete_topology, unique
from tests.integration.samples import sample_request
from worker.broker.topology import Topology, declare

README = Path(__file__).parents[2] / "README.md"


def block(marker: str) -> str:
    """The code of the fenced block right after ``<!-- marker -->``."""
    found = re.search(rf"<!-- {marker} -->\n```\w+\n(.*?)```", README.read_text(), re.DOTALL)
    assert found is not None, f"README has no block marked {marker}"
    return found.group(1)


def test_the_readme_request_is_a_valid_request() -> None:
    event = decode_command(block("request-example").encode())
    assert isinstance(event.data, DataflowRequested)
    assert event.data.request_id == "crm-orders"


@pytest.fixture
def prefix(rabbitmq_url: str) -> Iterator[str]:
    name = unique("readme")
    with Connection(rabbitmq_url) as connection:
        declare(connection.channel(), Topology(name))  # what a worker declares when it starts
    yield name
    delete_topology(rabbitmq_url, name)


def test_the_readme_kombu_example_publishes_a_request_the_worker_reads(
    rabbitmq_url: str, prefix: str
) -> None:
    code = block("producer-example").replace('"dataflow.commands"', f'"{prefix}.commands"')
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md (producer example)", "exec"), namespace)  # noqa: S102
    namespace["publish"](sample_request("readme-kombu", "base-1"), broker=rabbitmq_url)
    with Connection(rabbitmq_url) as connection:
        message = connection.channel().basic_get(f"{prefix}.requests", no_ack=True)
    assert message is not None
    properties = message.properties
    assert properties["content_type"] == "application/cloudevents+json"
    assert (properties["delivery_mode"], properties["type"]) == (2, "DataflowRequested")
    assert properties["correlation_id"] == "readme-kombu"
    event = decode_command(message.body)
    assert properties["message_id"] == event.id
    assert json.loads(message.body)["data"]["request_id"] == "readme-kombu"

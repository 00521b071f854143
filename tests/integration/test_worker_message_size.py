"""A message over DATAFLOW_MAX_MESSAGE_BYTES is refused before parsing, on a real RabbitMQ."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.testing import POSTGRES_SPEC_ID, Emulator, running_emulator
from messages import DataflowRequested, encode, new_event
from tests.integration.harness import collecting_events, wait_until
from tests.integration.samples import sample_request
from tests.integration.worker_support import (
    publish_raw,
    publish_request,
    request_publisher,
    running_worker,
    sqlite_url,
    take_all,
    topology_prefix,
    worker_settings,
)

pytestmark = pytest.mark.integration

LIMIT = 8192


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator in a thread."""
    with running_emulator() as emu:
        yield emu


def oversized_request(base: str) -> bytes:
    """A valid request whose body is over the limit: 150 columns with long names."""
    data = sample_request("crm-too-big", base)
    data["source"]["columns"] += [
        {"name": f"column_{n:03d}_{'x' * 40}", "type": "varchar", "xdm": {"type": "string"}}
        for n in range(150)
    ]
    body = encode(new_event(DataflowRequested.model_validate(data), source="urn:test"))
    assert len(body) > LIMIT
    return body


def test_an_oversized_message_gives_one_invalid_message_failure_and_is_parked(
    rabbitmq_url: str, emulator: Emulator, tmp_path: Path
) -> None:
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    body = oversized_request(base)
    with (
        topology_prefix(rabbitmq_url) as prefix,
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
    ):
        settings = worker_settings(
            rabbitmq_url, emulator, sqlite_url(tmp_path), prefix, max_message_bytes=LIMIT
        )
        with running_worker(settings):
            publish_raw(publisher, body, message_id="too-big-1")
            publish_request(publisher, sample_request("crm-small", base))
            events.wait_for_terminal(["crm-small"], timeout=30)

            def failed() -> bool:
                events.drain(0)
                return bool(events.of_type("DataflowFailed"))

            wait_until(failed, timeout=20, what="the DataflowFailed of the oversized message")
        events.drain()
        parked = take_all(rabbitmq_url, f"{prefix}.dead")
    [failure] = events.of_type("DataflowFailed")
    error = failure["data"]["error"]
    assert error["kind"] == "invalid_message"
    assert error["message"].startswith(
        f"the message is {len(body)} bytes, over the limit of {LIMIT} bytes"
    )
    assert failure["data"]["request_id"] is None  # never parsed, so nothing was read from it
    [kept] = parked
    assert kept.body == body
    assert kept.headers["x-dataflow-reason"] == "invalid_message"
    assert events.terminal()["crm-small"][0]["type"] == "DataflowCreated"

"""A request on a real RabbitMQ becomes one dataflow on the emulator, with its events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.testing import POSTGRES_SPEC_ID, Emulator, running_emulator
from tests.integration.harness import collecting_events, wait_until
from tests.integration.samples import sample_request
from tests.integration.worker_support import (
    postgres_schema,
    publish_request,
    request_publisher,
    running_worker,
    sqlite_url,
    topology_prefix,
    worker_settings,
)
from worker.broker.topology import EVENT_KEYS
from worker.core.steps import DEPENDENCIES, plan

pytestmark = pytest.mark.integration

KINDS = ("sourceConnections", "targetConnections", "flows", "schemas", "dataSets", "mappingSets")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator in a thread."""
    with running_emulator() as emu:
        yield emu


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh ledger: SQLite in tmp_path, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def prefix(rabbitmq_url: str) -> Iterator[str]:
    """A unique topology prefix, deleted afterwards."""
    with topology_prefix(rabbitmq_url) as name:
        yield name


def test_a_request_creates_one_resource_of_each_kind_and_reports_every_step(
    rabbitmq_url: str, emulator: Emulator, prefix: str, state_url: str
) -> None:
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    settings = worker_settings(rabbitmq_url, emulator, state_url, prefix)
    with (
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
        running_worker(settings) as worker,
    ):
        publish_request(publisher, sample_request("crm-happy-1", base))
        terminal = events.wait_for_terminal(["crm-happy-1"], timeout=30)
        assert worker.run_until_idle(10)
        events.drain()
    [created] = terminal["crm-happy-1"]
    assert created["type"] == "DataflowCreated"
    assert created["source"].startswith("urn:dataflow-worker:")
    steps = [e["data"]["step"] for e in events.of_type("StepCompleted")]
    assert sorted(steps) == sorted(s.value for s in plan(auto_mapping=False))
    for step, needs in DEPENDENCIES.items():  # each step completes after what it needs
        if step.value in steps:
            assert all(
                steps.index(d.value) < steps.index(step.value) for d in needs if d.value in steps
            )
    resources = emulator.resources()
    assert {kind: len(resources[kind]) for kind in KINDS} == dict.fromkeys(KINDS, 1)
    assert created["data"]["flow_id"] == resources["flows"][0]["id"]
    assert resources["flows"][0]["name"] == "crm crm-happy-1 (flow) [crm-happy-1]"


def test_a_request_that_supplies_schema_and_dataset_reuses_them_after_checking_them(
    rabbitmq_url: str, emulator: Emulator, prefix: str, tmp_path: Path
) -> None:
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    settings = worker_settings(rabbitmq_url, emulator, sqlite_url(tmp_path), prefix)
    with (
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
        running_worker(settings),
    ):
        publish_request(publisher, sample_request("crm-first", base))
        first = events.wait_for_terminal(["crm-first"], timeout=30)["crm-first"][0]["data"]
        target = {"schema_id": first["schema_id"], "dataset_id": first["dataset_id"]}
        publish_request(publisher, sample_request("crm-second", base, target=target))
        [second] = events.wait_for_terminal(["crm-second"], timeout=30)["crm-second"]
        events.drain()
    outcomes = {
        e["data"]["step"]: e["data"]["outcome"]
        for e in events.of_type("StepCompleted")
        if e["data"]["request_id"] == "crm-second"
    }
    assert second["type"] == "DataflowCreated"
    assert (outcomes["target_schema"], outcomes["target_dataset"]) == ("reused", "reused")
    assert (second["data"]["schema_id"], second["data"]["dataset_id"]) == (
        first["schema_id"],
        first["dataset_id"],
    )
    assert len(emulator.resources()["dataSets"]) == 1


def test_events_carry_the_amqp_properties_of_the_contract(
    rabbitmq_url: str, emulator: Emulator, prefix: str, tmp_path: Path
) -> None:
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    settings = worker_settings(rabbitmq_url, emulator, sqlite_url(tmp_path), prefix)
    with (
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
        running_worker(settings) as worker,
    ):
        publish_request(publisher, sample_request("crm-props", base))
        wait_until(
            lambda: (
                worker.metrics.requests_finished_total.labels(outcome="created")._value.get() == 1
            ),
            timeout=30,
            what="the request to finish",
        )
        raw = []
        channel = events.channel
        while (message := channel.basic_get(events.queue.name, no_ack=True)) is not None:
            raw.append(message)
    assert raw
    for message in raw:
        body = json.loads(message.body)
        props = message.properties
        assert props["content_type"] == "application/cloudevents+json"
        assert props["delivery_mode"] == 2
        assert props["message_id"] == body["id"]
        assert props["type"] == body["type"]
        assert props["correlation_id"] == "crm-props"
        assert message.delivery_info["routing_key"] == EVENT_KEYS[body["type"]]


def test_auto_mapping_generates_a_field_group_before_the_schema(
    rabbitmq_url: str, emulator: Emulator, prefix: str, tmp_path: Path
) -> None:
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    settings = worker_settings(rabbitmq_url, emulator, sqlite_url(tmp_path), prefix)
    auto = sample_request("crm-auto", base, mapping_mode="auto", mappings=[])
    auto["target"] = {"schema": {"class": "https://ns.adobe.com/xdm/context/profile"}}
    with (
        collecting_events(rabbitmq_url, prefix) as events,
        request_publisher(rabbitmq_url, prefix) as publisher,
        running_worker(settings),
    ):
        publish_request(publisher, auto)
        [done] = events.wait_for_terminal(["crm-auto"], timeout=30)["crm-auto"]
        events.drain()
    steps = [e["data"]["step"] for e in events.of_type("StepCompleted")]
    assert done["type"] == "DataflowCreated", done["data"]
    assert steps.index("field_group") < steps.index("target_schema")
    assert [g["title"] for g in emulator.resources()["fieldGroups"]] == [
        "crm crm-auto (field group) [crm-auto]"
    ]

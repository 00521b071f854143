"""`delete`, `disable`, `enable` on the real RabbitMQ, with dataflows a real worker created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from messages import DataflowDeletionRequested, DataflowRequested
from tests.integration.lifecycle_support import World, created_world, lines

pytestmark = pytest.mark.integration

TABLES = ("customers", "orders")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Two dataflows a worker created; no worker runs afterwards, so commands stay queued."""
    with created_world(tmp_path_factory.mktemp("lifecycle"), TABLES) as created:
        yield created


@pytest.fixture(autouse=True)
def empty_queue(world: World) -> Iterator[None]:
    """Each test finds the requests queue empty, and leaves it so."""
    world.requests()
    yield
    world.requests()


def test_delete_publishes_one_deletion_per_id_with_its_routing_key(world: World) -> None:
    ids = [world.ids["customers"], world.ids["orders"], world.ids["customers"]]
    result = world.cli("delete", *ids, "--reason", "tables dropped")
    assert result.exit_code == 0, result.output
    published = world.requests()
    assert [(m["type"], m["routing_key"]) for m in published] == 2 * [
        ("DataflowDeletionRequested", "dataflow.deletion_requested")
    ]
    assert [m["data"] for m in published] == [
        DataflowDeletionRequested(request_id=world.ids[t], reason="tables dropped") for t in TABLES
    ]
    assert lines(result)[-1] == "2 deletions published"


def test_a_malformed_id_is_a_usage_error_and_nothing_is_published(world: World) -> None:
    result = world.cli("delete", world.ids["orders"], "not an id")
    assert result.exit_code == 2
    assert "'not an id'" in result.stderr
    assert world.waiting() == 0


def test_disable_publishes_the_recorded_request_as_its_next_revision(world: World) -> None:
    result = world.cli("disable", world.ids["orders"])
    assert result.exit_code == 0, result.output
    [message] = world.requests()
    assert (message["type"], message["routing_key"]) == ("DataflowRequested", "dataflow.requested")
    request = message["data"]
    assert isinstance(request, DataflowRequested)
    assert (request.request_id, request.revision, request.enabled) == (
        world.ids["orders"],
        2,
        False,
    )
    recorded = world.record("orders").request_json
    assert request.model_copy(update={"enabled": True, "revision": 1}).model_dump_json() == (
        DataflowRequested.model_validate_json(recorded).model_dump_json()
    )
    assert f"published {world.ids['orders']} revision 2 (disabled)" in result.stdout


def test_enabling_an_enabled_flow_publishes_nothing_and_says_so(world: World) -> None:
    result = world.cli("enable", world.ids["customers"])
    assert result.exit_code == 0, result.output
    assert lines(result) == [f"{world.ids['customers']}: already enabled at revision 1"]
    assert world.waiting() == 0


def test_an_id_the_ledger_does_not_know_is_an_error_line_and_the_others_still_go(
    world: World,
) -> None:
    result = world.cli("disable", "crm-unknown", world.ids["customers"])
    assert result.exit_code == 1
    assert result.stderr == "error: crm-unknown: not in the ledger\n"
    assert [m["data"].request_id for m in world.requests()] == [world.ids["customers"]]


def test_without_a_ledger_enable_is_a_configuration_error(world: World, tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = world.cli(
        "enable", world.ids["customers"], env={"DATAFLOW_STATE_URL": f"sqlite:///{missing}"}
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: no ledger at {missing}: enable reads")
    assert not missing.exists()


def test_disable_wait_follows_the_update_and_delete_wait_says_what_went_and_what_stayed(
    tmp_path: Path,
) -> None:
    with created_world(tmp_path, TABLES) as world:
        flow = world.flow_id("orders")
        with world.worker():
            disabled = world.cli("disable", world.ids["orders"], "--wait", "--timeout", "60")
            again = world.cli("disable", world.ids["orders"])
            deleted = world.cli(
                "delete", world.ids["customers"], "crm-unknown", "--wait", "--timeout", "60"
            )
            after = world.cli("enable", world.ids["customers"])
        customers = world.record("customers")
        state = world.flow("orders")["state"]
    assert disabled.exit_code == 0, disabled.output
    assert lines(disabled)[-1] == f"updated {world.ids['orders']}: {flow}"
    assert state == "disabled"
    assert lines(again) == [f"{world.ids['orders']}: already disabled at revision 2"]
    assert deleted.exit_code == 1, deleted.output
    gone, unknown = lines(deleted)[-2:]
    assert gone.startswith(f"deleted {world.ids['customers']}: deleted dataflow ")
    assert f"; kept mapping_set {customers.step('mapping_set').resource_id} (not_deletable)" in gone
    assert unknown.startswith("failed crm-unknown: rejected")
    assert after.exit_code == 1
    assert "deleted at revision 1" in after.stderr

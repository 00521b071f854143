"""`audit` against the emulator: dataflows a real worker created, some changed behind its back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import wait_until
from tests.integration.lifecycle_support import FLOWS, World, as_json, created_world, lines

pytestmark = pytest.mark.integration

TABLES = ("customers", "orders", "order_items")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Three dataflows a worker created (each test changes its own)."""
    with created_world(tmp_path, TABLES) as created:
        yield created


def behind_its_back(world: World, method: str, path: str) -> None:
    """Change the Platform as someone in its UI would: straight through the Flow Service API."""
    with world.emulator.client() as http:
        http.request(method, path).raise_for_status()


def cells(line: str) -> list[str]:
    """The cells of a table's row."""
    return [cell.strip() for cell in line.strip("│ ").split("│")]


def another_mapping_set(world: World, mapping_set_id: str) -> str:
    """A new mapping set with the same mappings and schema as ``mapping_set_id``."""
    with world.emulator.client() as http:
        found = http.get(f"/data/foundation/conversion/mappingSets/{mapping_set_id}").json()
    schema = found["outputSchema"]["schemaRef"]["id"]
    mappings = {m["source"]: m["destination"] for m in found["mappings"]}
    return world.emulator.create_mapping_set(schema, mappings)


def test_untouched_dataflows_have_no_drift(world: World) -> None:
    result = world.cli("audit")
    assert result.exit_code == 0, result.output
    assert lines(result) == ["no drift in 3 dataflows"]
    listed = world.cli("audit", "--json")
    assert [(row["request_id"], row["drift"]) for row in as_json(listed)] == sorted(
        (world.ids[table], []) for table in TABLES
    )


def test_a_flow_deleted_and_a_flow_disabled_behind_the_workers_back_are_reported(
    world: World,
) -> None:
    deleted, disabled = world.flow_id("customers"), world.flow_id("orders")
    behind_its_back(world, "DELETE", f"{FLOWS}/{deleted}")
    behind_its_back(world, "POST", f"{FLOWS}/{disabled}/action?op=DISABLE")

    listed = world.cli("audit", "--json")
    table = world.cli("audit")
    one = world.cli("audit", world.ids["order_items"])

    assert listed.exit_code == 1, listed.output
    drift = {row["request_id"]: (row["flow_id"], row["drift"]) for row in as_json(listed)}
    assert drift == {
        world.ids["customers"]: (deleted, [{"field": "flow", "expected": deleted, "actual": None}]),
        world.ids["orders"]: (
            disabled,
            [{"field": "enabled", "expected": "enabled", "actual": "disabled"}],
        ),
        world.ids["order_items"]: (world.flow_id("order_items"), []),
    }
    assert table.exit_code == 1
    rows = [cells(line) for line in lines(table) if line.startswith("│ tbl-")]
    assert sorted(rows) == sorted(
        [
            [world.ids["customers"], deleted, "flow", deleted, "missing"],
            [world.ids["orders"], disabled, "enabled", "enabled", "disabled"],
        ]
    )
    assert "2 dataflows drifted of 3" in table.stdout
    assert (one.exit_code, lines(one)) == (0, ["no drift in 1 dataflow"])


def test_changed_schedule_mapping_set_and_missing_connections_are_each_a_difference(
    world: World,
) -> None:
    record = world.record("customers")
    flow = world.flow_id("customers")
    other = another_mapping_set(world, str(record.step("mapping_set").resource_id))
    patch = [
        {"op": "replace", "path": "/scheduleParams/frequency", "value": "week"},
        {"op": "replace", "path": "/transformations/1/params/mappingId", "value": other},
    ]
    with world.emulator.client() as http:
        etag = http.get(f"{FLOWS}/{flow}").json()["items"][0]["etag"]
        http.patch(f"{FLOWS}/{flow}", json=patch, headers={"If-Match": etag}).raise_for_status()
    behind_its_back(world, "DELETE", f"{FLOWS}/{world.flow_id('orders')}")
    orders_source = world.record("orders").step("source_connection").resource_id
    behind_its_back(
        world, "DELETE", f"/data/foundation/flowservice/sourceConnections/{orders_source}"
    )

    result = world.cli("audit", "--json", world.ids["customers"], world.ids["orders"])

    assert result.exit_code == 1, result.output
    drift = {row["request_id"]: row["drift"] for row in as_json(result)}
    fields = {found["field"]: found for found in drift[world.ids["customers"]]}
    assert sorted(fields) == ["mapping_set", "schedule"]
    assert fields["schedule"]["actual"]["frequency"] == "week"
    assert fields["schedule"]["expected"]["frequency"] == "day"
    assert fields["mapping_set"] == {
        "field": "mapping_set",
        "expected": record.step("mapping_set").resource_id,
        "actual": other,
    }
    assert [found["field"] for found in drift[world.ids["orders"]]] == ["flow", "source_connection"]


def test_repair_publishes_the_next_revision_and_the_worker_puts_the_flow_right(
    world: World,
) -> None:
    behind_its_back(world, "POST", f"{FLOWS}/{world.flow_id('orders')}/action?op=DISABLE")
    with world.worker():
        repaired = world.cli("audit", "--repair")
        wait_until(
            lambda: world.record("orders").applied_revision == 2,
            timeout=30,
            what="the repair's revision applied",
        )
    after = world.cli("audit")
    assert repaired.exit_code == 1, repaired.output
    assert f"published {world.ids['orders']} revision 2 to repair it" in repaired.stderr
    assert world.flow("orders")["state"] == "enabled"
    assert (after.exit_code, lines(after)) == (0, ["no drift in 3 dataflows"])


def test_ids_that_cannot_be_audited_are_error_lines(world: World) -> None:
    result = world.cli("audit", "crm-unknown", world.ids["orders"])
    assert result.exit_code == 1
    assert result.stderr == "error: crm-unknown: not in the ledger\n"
    assert lines(result) == ["no drift in 1 dataflow"]


def test_audit_needs_the_platform_credentials(world: World) -> None:
    result = world.cli("audit", env={"DATAFLOW_CLIENT_ID": None})
    assert result.exit_code == 2
    assert result.stderr.startswith("error: set DATAFLOW_CLIENT_ID ")

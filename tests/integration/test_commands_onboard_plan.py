"""`onboard` against a ledger of dataflows a real worker created: the plan, revisions, --prune."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.lifecycle_support import World, created_world, lines

pytestmark = pytest.mark.integration

TABLES = ("customers", "orders", "order_items")
HOURLY = {"schedule": {"frequency": "hour", "interval": 2, "start_time": 0, "backfill": True}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Three tables' dataflows, created by a worker that is stopped afterwards."""
    with created_world(tmp_path_factory.mktemp("plan"), TABLES) as created:
        yield created


def test_a_dry_run_plans_an_unchanged_a_changed_and_a_new_table_and_publishes_nothing(
    world: World, tmp_path: Path
) -> None:
    manifest = world.write_manifest(
        tmp_path / "m.yaml", "customers", "orders", "invoices", orders=HOURLY
    )
    new_id = [line for line in manifest.read_text().splitlines() if "tbl-" in line][-1]
    result = world.cli("onboard", str(manifest), "--dry-run")
    assert result.exit_code == 0, result.output
    assert lines(result)[:3] == [
        f"plan {world.ids['customers']} public.customers: unchanged",
        f"plan {world.ids['orders']} public.orders: update: schedule (revision 2)",
        f"plan {new_id.split()[-1]} public.invoices: create",
    ]
    assert "plan: 1 create, 1 update, 1 unchanged" in result.stdout
    assert "nothing published" in result.stdout
    assert world.waiting() == 0


def test_prune_plans_the_deletion_of_a_table_that_left_the_manifest(
    world: World, tmp_path: Path
) -> None:
    manifest = world.write_manifest(tmp_path / "m.yaml", "customers", "orders")
    result = world.cli("onboard", str(manifest), "--dry-run", "--prune")
    assert result.exit_code == 0, result.output
    assert f"plan {world.ids['order_items']} public.order_items: delete" in result.stdout
    assert "plan: 2 unchanged, 1 delete" in result.stdout
    without = world.cli("onboard", str(manifest), "--dry-run")
    assert "delete" not in without.stdout
    assert world.waiting() == 0


def test_onboarding_again_publishes_nothing_and_reports_each_tables_dataflow(
    world: World, tmp_path: Path
) -> None:
    report = tmp_path / "again.json"
    result = world.cli("onboard", str(world.manifest), "--report", str(report))
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in lines(result)[:3]] == 3 * ["unchanged"]
    assert "3 unchanged" in result.stdout
    rows = {row["table"]: row for row in json.loads(report.read_text())}
    assert {table: rows[f"public.{table}"]["status"] for table in TABLES} == dict.fromkeys(
        TABLES, "unchanged"
    )
    assert rows["public.orders"]["flow_id"] == world.flow_id("orders")
    assert world.waiting() == 0


def test_a_changed_table_is_published_as_the_next_revision_and_a_new_one_as_it_is(
    world: World, tmp_path: Path
) -> None:
    manifest = world.write_manifest(
        tmp_path / "m.yaml", "customers", "orders", "invoices", orders=HOURLY
    )
    result = world.cli("onboard", str(manifest))  # no worker runs: the commands stay queued
    assert result.exit_code == 0, result.output
    published = world.requests()
    assert [(m["data"].request_id, m["data"].revision) for m in published] == [
        (world.ids["orders"], 2),
        (published[1]["data"].request_id, 1),
    ]
    assert published[0]["data"].schedule.frequency == "hour"
    assert {m["routing_key"] for m in published} == {"dataflow.requested"}
    assert f"unchanged {world.ids['customers']}" in result.stdout


def test_a_changed_fixed_field_is_a_conflict_and_nothing_at_all_is_published(
    world: World, tmp_path: Path
) -> None:
    renamed = {"name": "another name"}
    manifest = world.write_manifest(
        tmp_path / "m.yaml", "customers", "orders", customers=renamed, orders=HOURLY
    )
    result = world.cli("onboard", str(manifest))
    assert result.exit_code == 1
    assert f"plan {world.ids['customers']} public.customers: conflict: name (" in result.stderr
    assert "new request_id" in result.stderr
    assert "nothing published: 1 conflict" in result.stdout
    assert world.waiting() == 0


def test_a_ledger_that_cannot_be_read_is_a_one_line_configuration_error(
    world: World, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    result = world.cli(
        "onboard",
        str(world.manifest),
        "--dry-run",
        env={"DATAFLOW_STATE_URL": f"sqlite:///{broken}"},
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: onboard needs the ledger (DATAFLOW_STATE_URL): ")
    assert len(result.stderr.splitlines()) == 1


def test_without_a_ledger_every_table_is_new_and_none_is_created(
    world: World, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.db"
    result = world.cli(
        "onboard",
        str(world.manifest),
        "--dry-run",
        env={"DATAFLOW_STATE_URL": f"sqlite:///{missing}"},
    )
    assert result.exit_code == 0, result.output
    assert [line.split(": ")[1] for line in lines(result)[:3]] == 3 * ["create"]
    assert f"no ledger at {missing} yet" in result.stderr
    assert not missing.exists()


def test_a_changed_table_is_updated_in_place_and_a_pruned_one_deleted_by_the_worker(
    tmp_path: Path,
) -> None:
    with created_world(tmp_path, ("customers", "orders")) as world:
        manifest = world.write_manifest(tmp_path / "next.yaml", "orders", orders=HOURLY)
        report = tmp_path / "report.json"
        flow = world.flow_id("orders")
        with world.worker():
            args = ["--prune", "--wait", "--timeout", "60", "--report", str(report)]
            result = world.cli("onboard", str(manifest), *args)
        assert result.exit_code == 0, result.output
        rows = {row["table"]: row for row in json.loads(report.read_text())}
        assert (rows["public.orders"]["status"], rows["public.orders"]["flow_id"]) == (
            "updated",
            flow,
        )
        assert rows["public.customers"]["status"] == "deleted"
        assert "1 updated, 1 deleted" in result.stdout
        assert world.flow("orders")["scheduleParams"]["frequency"] == "hour"
        assert world.record("customers").status == "deleted"
        assert flow in {f["id"] for f in world.emulator.resources()["flows"]}
        assert len(world.emulator.resources()["flows"]) == 1

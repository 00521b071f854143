"""Issue 10, acceptance 4: a ledger written by the previous release is migrated and keeps working.

``tests/fixtures/ledger_v2`` holds a SQLite ledger (schema version 2) and the emulator state the
previous release's worker wrote (see its README): ``legacy-created`` created, ``legacy-failed``
failed. Opened by today's code, the ledger is upgraded in place; its created request answers a
duplicate with its stored terminal event, takes a revision as an update of the same flow, and is
deleted; the failed one can be deleted too. The same upgrade runs on PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.harness import wait_until
from tests.integration.scenario import Scenario, postgres_database
from worker.ledger import open_ledger
from worker.ledger.migrations import LATEST_VERSION
from worker.ledger.postgres import PostgresLedger

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ledger_v2"
LEGACY_ORG = "EMULATOR0000000000000000@AdobeOrg"  # the organisation the fixture was made in
V2_COLUMNS = (
    "request_id, content_hash, request_json, first_event_id, status, steps, deliveries, "
    "last_error, next_retry_at, created_at, updated_at, finished_at, lease_owner, "
    "lease_expires_at, fence, unsettled_deliveries, terminal_event, runs"
)


def legacy_copy(directory: Path) -> tuple[str, Path]:
    """A copy of the old ledger and emulator state: (state URL, state file)."""
    shutil.copy(FIXTURE / "ledger.db", directory / "ledger.db")
    shutil.copy(FIXTURE / "emulator-state.json", directory / "emulator-state.json")
    return f"sqlite:///{directory / 'ledger.db'}", directory / "emulator-state.json"


def schema_version(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT version FROM ledger_schema").fetchone()[0])


def legacy_request(state_url: str) -> dict[str, Any]:
    """The created request's content as its producer sent it (the ledger keeps it canonical)."""
    with open_ledger(state_url) as ledger:
        record = ledger.get("legacy-created")
        assert record is not None
        return dict(json.loads(record.request_json))


def test_the_previous_ledger_is_upgraded_in_place_with_its_requests_applied(
    tmp_path: Path,
) -> None:
    state_url, _ = legacy_copy(tmp_path)
    assert schema_version(tmp_path / "ledger.db") == 2
    with open_ledger(state_url) as ledger:
        created = ledger.get("legacy-created")
        failed = ledger.get("legacy-failed")
    assert schema_version(tmp_path / "ledger.db") == LATEST_VERSION
    assert created is not None
    assert failed is not None
    assert (created.status, created.revision, created.applied_revision) == ("created", 1, 1)
    assert created.applied_json == created.request_json
    assert (failed.status, failed.applied_revision, failed.operation) == ("failed", None, "create")


def test_requests_of_the_previous_ledger_keep_working(tmp_path: Path, rabbitmq_url: str) -> None:
    state_url, state_file = legacy_copy(tmp_path)
    with open_ledger(state_url) as ledger:
        old = ledger.get("legacy-created")
        assert old is not None
        assert old.terminal_event is not None
        old_event = json.loads(old.terminal_event)
    request = legacy_request(state_url)
    scenario = Scenario(tmp_path, rabbitmq_url, state_url)
    try:
        emulator = scenario.emulator(state_file=state_file)
        scenario.worker(emulator, org_id=LEGACY_ORG)
        scenario.publish([request])  # the same request again: a duplicate
        [again] = scenario.events.wait_for_terminal(["legacy-created"], timeout=60)[
            "legacy-created"
        ]
        assert (again["type"], again["id"]) == ("DataflowCreated", old_event["id"])

        schedule = {**request["schedule"], "interval": 4}
        scenario.publish([{**request, "revision": 2, "schedule": schedule}])

        def events(count: int) -> list[dict[str, Any]]:
            def arrived() -> bool:
                scenario.events.drain(0)
                return len(scenario.events.terminal().get("legacy-created", [])) >= count

            wait_until(arrived, timeout=60, what=f"terminal event {count} of legacy-created")
            return scenario.events.terminal()["legacy-created"]

        updated = events(2)[1]
        assert updated["type"] == "DataflowUpdated", updated
        assert updated["data"]["flow_id"] == old_event["data"]["flow_id"]
        assert updated["data"]["changed"] == ["schedule"]

        scenario.delete("legacy-created")
        deleted = events(3)[2]
        assert deleted["type"] == "DataflowDeleted"
        assert deleted["data"]["deleted"]["dataflow"] == old_event["data"]["flow_id"]
        scenario.delete("legacy-failed")
        [gone] = scenario.events.wait_for_terminal(["legacy-failed"], timeout=60)["legacy-failed"]
        assert (gone["type"], gone["data"]["deleted"]) == ("DataflowDeleted", {})
    finally:
        scenario.close()


def test_the_previous_ledger_is_upgraded_on_postgresql(postgres_url: str) -> None:
    with sqlite3.connect(FIXTURE / "ledger.db") as old:
        rows = old.execute(f"SELECT {V2_COLUMNS} FROM ledger_requests").fetchall()  # noqa: S608
    with postgres_database(postgres_url) as state_url:
        PostgresLedger._migrate(state_url, 2)  # the previous release's schema
        marks = ", ".join(["%s"] * len(V2_COLUMNS.split(",")))
        with psycopg.connect(state_url, autocommit=True) as connection:
            for row in rows:
                connection.execute(
                    f"INSERT INTO ledger_requests ({V2_COLUMNS}) VALUES ({marks})",  # noqa: S608
                    row,
                )
        with open_ledger(state_url) as ledger:
            created = ledger.get("legacy-created")
            assert created is not None
            assert (created.revision, created.applied_revision) == (1, 1)
            claim = ledger.claim(
                "legacy-created",
                created.content_hash,
                created.request_json,
                "duplicate",
                "w",
                15,
            )
            assert claim.outcome == "finished"
            revision = ledger.claim(
                "legacy-created",
                "other-hash",
                created.request_json.replace('"interval":1', '"interval":2'),
                "revision-2",
                "w",
                15,
                revision=2,
            )
            assert (revision.outcome, revision.record.operation) == ("acquired", "update")
        with psycopg.connect(state_url) as connection:
            version = connection.execute("SELECT version FROM ledger_schema").fetchone()
            assert version == (LATEST_VERSION,)

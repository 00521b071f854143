"""The ledger contract against both variants: SQLite in tmp_path, PostgreSQL in a fresh schema."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import psycopg
import pytest

from tests import ledger_ops as ops
from tests.integration.worker_support import postgres_schema
from worker.errors import LeaseLostError, LedgerError
from worker.ledger import (
    Ledger,
    LedgerStateError,
    StepRecord,
    UnknownRequestError,
    open_ledger,
)
from worker.ledger.migrations import LATEST_VERSION
from worker.ledger.postgres import PostgresLedger
from worker.ledger.sqlite import SqliteLedger, sqlite_path

pytestmark = pytest.mark.integration

T0 = 1_800_000_000.0
LEASE = 30.0
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger location of each variant."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def ledger(state_url: str) -> Iterator[Ledger]:
    """An open ledger at the fresh location."""
    with open_ledger(state_url) as opened:
        yield opened


def claim(ledger: Ledger, owner: str = "w1", *, now: float = T0, content: str = "hash-a") -> Any:
    """Claim request r-1 (a helper: every test uses the same request)."""
    return ledger.claim("r-1", content, '{"name":"crm"}', "evt-1", owner, LEASE, now)


def raw_execute(state_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run one statement straight through the variant's driver (``?`` placeholders)."""
    if state_url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(state_url)) as connection:
            return connection.execute(sql, params).fetchall()
    with psycopg.connect(state_url, autocommit=True) as connection:
        cursor = connection.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []


def test_a_new_request_is_acquired_with_the_first_fence(ledger: Ledger) -> None:
    first = claim(ledger)
    assert (first.outcome, first.fence) == ("acquired", 1)
    stored = ledger.get("r-1")
    assert stored is not None
    assert (stored.status, stored.lease_owner, stored.deliveries) == ("running", "w1", 1)
    assert (stored.request_json, stored.first_event_id) == ('{"name":"crm"}', "evt-1")


def test_a_claim_while_the_lease_is_held_is_busy_even_for_the_same_owner(ledger: Ledger) -> None:
    claim(ledger)
    assert claim(ledger, "w2", now=T0 + 1).outcome == "busy"
    assert claim(ledger, "w1", now=T0 + 1).outcome == "busy"
    assert ledger.get("r-1").deliveries == 1  # type: ignore[union-attr]


def test_other_content_under_the_same_id_is_a_conflict_that_changes_nothing(
    ledger: Ledger,
) -> None:
    claim(ledger)
    before = ledger.get("r-1")
    outcome = claim(ledger, "w2", now=T0 + 100, content="hash-b")
    assert outcome.outcome == "conflict"
    assert outcome.fence is None
    assert ledger.get("r-1") == before


def test_a_duplicate_of_a_finished_request_gets_its_terminal_event(ledger: Ledger) -> None:
    fence = claim(ledger).fence
    ops.finish(ledger, "r-1", fence, "created", b'{"id":"evt-created"}', now=T0 + 5)
    duplicate = claim(ledger, "w2", now=T0 + 6)
    assert duplicate.outcome == "finished"
    assert duplicate.record.terminal_event == b'{"id":"evt-created"}'
    assert duplicate.record.finished_at == T0 + 5


def test_an_expired_lease_is_taken_over_and_the_old_fence_can_no_longer_write(
    ledger: Ledger,
) -> None:
    old = claim(ledger).fence
    ops.record_intent(ledger, "r-1", old, "source_connection", "crm (source) [r-1]", now=T0 + 1)
    takeover = claim(ledger, "w2", now=T0 + LEASE + 1)
    assert (takeover.outcome, takeover.fence) == ("acquired", old + 1)
    assert takeover.record.step("source_connection").name == "crm (source) [r-1]"
    stale_writes: list[Callable[[], object]] = [
        lambda: ops.record_intent(ledger, "r-1", old, "target_schema", "x"),
        lambda: ops.complete_step(
            ledger, "r-1", old, "source_connection", "s-1", "created", 1, 0.1
        ),
        lambda: ops.fail_step(ledger, "r-1", old, "source_connection", {"kind": "rejected"}),
        lambda: ops.schedule_retry(ledger, "r-1", old, T0 + 99, {"kind": "retries_exhausted"}),
        lambda: ops.finish(ledger, "r-1", old, "created", b"event"),
        lambda: ops.renew_lease(ledger, "r-1", old, LEASE),
        lambda: ops.release(ledger, "r-1", old, settled=True),
    ]
    for write in stale_writes:
        with pytest.raises(LeaseLostError):
            write()
    stored = ledger.get("r-1")
    assert stored is not None
    assert (stored.lease_owner, stored.fence) == ("w2", old + 1)


def test_a_takeover_by_another_worker_fences_out_the_first_one(state_url: str) -> None:
    with open_ledger(state_url) as first, open_ledger(state_url) as second:
        old = claim(first).fence
        ops.record_intent(first, "r-1", old, "source_connection", "crm (source) [r-1]", now=T0 + 1)
        new = claim(second, "w2", now=T0 + LEASE + 1).fence
        with pytest.raises(LeaseLostError):
            ops.complete_step(first, "r-1", old, "source_connection", "s-1", "created", 1, 0.1)
        with pytest.raises(LeaseLostError):
            ops.finish(first, "r-1", old, "created", b"event")
        ops.complete_step(second, "r-1", new, "source_connection", "s-2", "found", 1, 0.1)
        stored = first.get("r-1")
    assert stored is not None
    assert (stored.status, stored.lease_owner, stored.fence) == ("running", "w2", new)
    assert stored.step("source_connection").resource_id == "s-2"


def test_a_released_lease_can_no_longer_write(ledger: Ledger) -> None:
    fence = claim(ledger).fence
    ops.schedule_retry(ledger, "r-1", fence, T0 + 8, {"kind": "retries_exhausted"}, now=T0 + 1)
    with pytest.raises(LeaseLostError):
        ops.record_intent(ledger, "r-1", fence, "dataflow")


def test_a_step_records_its_intent_attempts_and_result(ledger: Ledger) -> None:
    fence = claim(ledger).fence
    assert ops.record_intent(ledger, "r-1", fence, "dataflow", "crm (flow) [r-1]") == 0
    assert ops.record_intent(ledger, "r-1", fence, "dataflow") == 0  # the name is kept
    ops.complete_step(ledger, "r-1", fence, "dataflow", "flow-1", "found", 2, 1.5)
    error = {"kind": "rejected", "message": "bad", "status": 400, "code": "X-1"}
    ops.fail_step(ledger, "r-1", fence, "mapping_set", error, 1)
    stored = ledger.get("r-1")
    assert stored is not None
    assert stored.steps == {
        "dataflow": StepRecord("done", "flow-1", "crm (flow) [r-1]", 2, "found", 1.5),
        "mapping_set": StepRecord(state="failed", attempts=1),
    }
    assert (stored.last_error, stored.attempts) == (error, 3)


def test_deliveries_without_a_clean_settle_build_up_the_poison_count(ledger: Ledger) -> None:
    claim(ledger)
    claim(ledger, "w2", now=T0 + LEASE)  # the first worker crashed
    third = claim(ledger, "w3", now=T0 + 2 * LEASE)  # and so did the second
    assert (third.record.deliveries, third.record.unsettled_deliveries) == (3, 3)
    ops.schedule_retry(ledger, "r-1", third.fence, T0 + 100, {"kind": "x"}, now=T0 + 61)
    retried = claim(ledger, "w3", now=T0 + 100)
    assert (retried.record.deliveries, retried.record.unsettled_deliveries) == (4, 1)


def test_a_renewed_lease_keeps_others_out_and_a_release_lets_them_in(ledger: Ledger) -> None:
    fence = claim(ledger).fence
    ops.renew_lease(ledger, "r-1", fence, LEASE, now=T0 + 20)
    assert claim(ledger, "w2", now=T0 + 40).outcome == "busy"
    ops.release(ledger, "r-1", fence, settled=False, now=T0 + 41)
    again = claim(ledger, "w2", now=T0 + 42)
    assert (again.outcome, again.record.unsettled_deliveries) == ("acquired", 2)


def test_many_threads_claiming_at_once_give_exactly_one_acquired(ledger: Ledger) -> None:
    workers = 12
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []

    def contend(index: int) -> None:
        barrier.wait()
        outcomes.append(claim(ledger, f"w{index}", now=T0).outcome)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes) == {"acquired": 1, "busy": workers - 1}


def test_a_failed_request_reopened_for_replay_can_be_claimed_again(ledger: Ledger) -> None:
    fence = claim(ledger).fence
    ops.complete_step(ledger, "r-1", fence, "source_connection", "s-1", "created", 1, 0.2)
    ops.fail_step(ledger, "r-1", fence, "dataflow", {"kind": "rejected"}, 3)
    ops.finish(ledger, "r-1", fence, "failed", b"failed-event", {"kind": "rejected"}, now=T0 + 3)
    reopened = ledger.reopen_for_replay("r-1", now=T0 + 10)
    assert (reopened.status, reopened.terminal_event) == ("pending", None)
    assert reopened.step("source_connection").resource_id == "s-1"
    assert reopened.step("dataflow") == StepRecord()
    again = claim(ledger, "w2", now=T0 + 11)
    assert (again.outcome, again.fence) == ("acquired", fence + 1)


def test_only_a_failed_known_request_can_be_replayed(ledger: Ledger) -> None:
    with pytest.raises(UnknownRequestError):
        ledger.reopen_for_replay("nobody")
    claim(ledger)
    with pytest.raises(LedgerStateError):
        ledger.reopen_for_replay("r-1")


def test_prune_deletes_only_failed_and_deleted_records_older_than_the_cutoff(
    ledger: Ledger,
) -> None:
    ends: list[tuple[str, Literal["failed", "deleted", "created"], float]] = [
        ("old-failed", "failed", T0 + 1),
        ("new-failed", "failed", T0 + 50),
        ("old-deleted", "deleted", T0 + 1),
        ("old-created", "created", T0 + 1),
    ]
    for rid, status, finished_at in ends:
        fence = ledger.claim(rid, "h", "{}", "e", "w", LEASE, T0).fence
        assert fence is not None
        ops.finish(ledger, rid, fence, status, b"e", now=finished_at)
    ledger.claim("running", "h", "{}", "e", "w", LEASE, T0)
    assert ledger.prune(older_than=T0 + 10) == 2
    assert ledger.get("old-failed") is None
    assert ledger.get("old-deleted") is None
    # A created dataflow's record lives as long as the dataflow: revisions and deletion need it.
    assert ledger.summary() == {"created": 1, "failed": 1, "running": 1}


def test_list_gives_the_most_recent_first_optionally_by_status(ledger: Ledger) -> None:
    for index in range(3):
        ledger.claim(f"r-{index}", "h", "{}", "e", "w", LEASE, T0 + index)
    assert [r.request_id for r in ledger.list()] == ["r-2", "r-1", "r-0"]
    assert [r.request_id for r in ledger.list(limit=1)] == ["r-2"]
    assert ledger.list(status="failed") == []


def test_runs_are_appended_to_a_finished_request(ledger: Ledger) -> None:
    fence = claim(ledger).fence
    ops.finish(ledger, "r-1", fence, "created", b"e")
    ledger.record_run("r-1", {"run_id": "run-1", "status": "success"})
    assert ledger.get("r-1").runs == ({"run_id": "run-1", "status": "success"},)  # type: ignore[union-attr]


def test_a_run_recorded_while_the_lease_is_held_survives_later_writes(ledger: Ledger) -> None:
    fence = claim(ledger).fence
    ops.record_intent(ledger, "r-1", fence, "dataflow", "crm (flow) [r-1]")
    ledger.record_run("r-1", {"run_id": "run-1"})
    ops.complete_step(ledger, "r-1", fence, "dataflow", "flow-1", "created", 1, 0.1)
    ops.finish(ledger, "r-1", fence, "created", b"e")
    assert ledger.get("r-1").runs == ({"run_id": "run-1"},)  # type: ignore[union-attr]


def test_what_was_written_is_there_after_reopening(state_url: str) -> None:
    with open_ledger(state_url) as first:
        fence = claim(first).fence
        ops.complete_step(first, "r-1", fence, "dataflow", "flow-1", "created", 1, 0.5)
    with open_ledger(state_url) as second:
        stored = second.get("r-1")
    assert stored is not None
    assert stored.step("dataflow").resource_id == "flow-1"


def test_a_version_1_ledger_is_upgraded_in_place_and_keeps_its_records(state_url: str) -> None:
    opener = SqliteLedger if state_url.startswith("sqlite") else PostgresLedger
    target = sqlite_path(state_url) if state_url.startswith("sqlite") else state_url
    opener(target, schema_version=1).close()
    raw_execute(
        state_url,
        "INSERT INTO ledger_requests (request_id, content_hash, request_json, first_event_id,"
        " status, steps, deliveries, created_at, updated_at, fence)"
        " VALUES ('r-1', 'hash-a', '{}', 'evt-1', 'waiting_retry', ?, 2, ?, ?, 3)",
        ('{"dataflow":{"state":"failed","attempts":2}}', T0, T0),
    )
    with open_ledger(state_url) as upgraded:
        stored = upgraded.get("r-1")
        assert stored is not None
        assert (stored.status, stored.fence, stored.unsettled_deliveries) == ("waiting_retry", 3, 0)
        assert stored.step("dataflow").attempts == 2
        assert claim(upgraded, "w2", now=T0).fence == 4
    assert raw_execute(state_url, "SELECT version FROM ledger_schema") == [(LATEST_VERSION,)]


def test_a_ledger_newer_than_the_code_is_refused(state_url: str) -> None:
    open_ledger(state_url).close()
    raw_execute(state_url, "UPDATE ledger_schema SET version = ?", (LATEST_VERSION + 1,))
    with pytest.raises(LedgerError, match="newer than this worker knows"):
        open_ledger(state_url)


def test_sqlite_commits_are_fully_synced_in_wal_mode(tmp_path: Path) -> None:
    with SqliteLedger(str(tmp_path / "ledger.db")) as ledger:
        assert ledger.pragma("journal_mode") == "wal"
        assert ledger.pragma("synchronous") == 2  # FULL


def test_sqlite_in_memory_serves_tests() -> None:
    with open_ledger("sqlite:///:memory:") as ledger:
        assert claim(ledger).outcome == "acquired"


def test_postgres_sessions_commit_synchronously(postgres_url: str) -> None:
    with postgres_schema(postgres_url) as url, PostgresLedger(url) as ledger:
        assert ledger.setting("synchronous_commit") == "on"


def test_claims_from_several_processes_give_exactly_one_acquired(state_url: str) -> None:
    open_ledger(state_url).close()  # the schema exists before the race
    script = (
        "import sys; from worker.ledger import open_ledger\n"
        "with open_ledger(sys.argv[1]) as ledger:\n"
        "    print(ledger.claim('r-1', 'h', '{}', 'e', sys.argv[2], 30.0, 1.8e9).outcome)\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, state_url, f"p{index}"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for index in range(3)
    ]
    outcomes = [process.communicate(timeout=60)[0].strip() for process in processes]
    assert Counter(outcomes) == {"acquired": 1, "busy": 2}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/x", "unsupported ledger URL scheme 'mysql'"),
        ("sqlite:///", "not a SQLite state URL"),
        ("sqlite:////nonexistent-dir/ledger.db", "cannot open the ledger"),
        ("postgresql://postgres@127.0.0.1:1/postgres", "ledger database error"),
    ],
)
def test_an_unusable_state_url_fails_with_a_readable_ledger_error(url: str, message: str) -> None:
    with pytest.raises(LedgerError, match=message):
        open_ledger(url)


def test_a_database_error_never_shows_the_password_of_the_state_url() -> None:
    with pytest.raises(LedgerError) as caught:
        open_ledger("postgresql://postgres:hunter2-secret@127.0.0.1:1/postgres")
    assert "hunter2-secret" not in str(caught.value)


def test_writes_from_many_threads_all_land_and_a_stale_one_fails_alone(state_url: str) -> None:
    with open_ledger(state_url) as ledger:
        fences: dict[str, int] = {}
        for n in range(16):
            fence = ledger.claim(f"r-{n}", "h", "{}", f"e-{n}", "w1", LEASE, T0).fence
            assert fence is not None
            fences[f"r-{n}"] = fence
        errors: list[BaseException] = []

        def write(request_id: str, fence: int) -> None:
            try:
                ops.complete_step(
                    ledger, request_id, fence, "dataflow", f"f-{request_id}", "created", 1, 0
                )
            except LeaseLostError as error:
                errors.append(error)

        threads = [threading.Thread(target=write, args=item) for item in fences.items()]
        threads.append(threading.Thread(target=write, args=("r-0", fences["r-0"] + 1)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    with open_ledger(state_url) as reopened:
        stored = {rid: reopened.get(rid) for rid in fences}
    assert len(errors) == 1
    assert all(
        record is not None and record.step("dataflow").resource_id == f"f-{rid}"
        for rid, record in stored.items()
    )


def test_a_claim_writes_the_intents_of_the_steps_that_never_started(state_url: str) -> None:
    intents = (("source_connection", "crm (source) [r-1]"), ("target_schema", "crm (schema) [r-1]"))
    with open_ledger(state_url) as ledger:
        first = ledger.claim("r-1", "hash-a", "{}", "evt-1", "w1", LEASE, T0, intents)
        assert first.fence is not None
        ops.complete_step(ledger, "r-1", first.fence, "source_connection", "s-1", "created", 1, 0.1)
        ops.release(ledger, "r-1", first.fence, settled=False, now=T0 + 1)
        again = ledger.claim("r-1", "hash-a", "{}", "evt-1", "w2", LEASE, T0 + 2, intents)
        stored = ledger.get("r-1")
    assert first.started == ("source_connection", "target_schema")
    assert again.started == ()  # started before: the next delivery looks them up first
    assert stored is not None
    assert stored.step("source_connection").state == "done"
    assert stored.step("target_schema") == StepRecord(state="started", name="crm (schema) [r-1]")

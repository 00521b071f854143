"""Housekeeping of a running worker: pruning the ledger, and what liveness reports."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from emulator.testing import running_emulator
from tests import ledger_ops as ops
from tests.integration.worker_support import running_worker, sqlite_url, worker_settings
from worker.ledger import open_ledger

pytestmark = pytest.mark.integration


def _finished_record(
    state_url: str, request_id: str, finished_at: float, status: str = "failed"
) -> None:
    with open_ledger(state_url) as ledger:
        claim = ledger.claim(request_id, "hash", "{}", "event", "test", 60, now=finished_at)
        assert claim.fence is not None
        ops.finish(ledger, request_id, claim.fence, status, b"{}", now=finished_at)  # type: ignore[arg-type]


def test_records_finished_before_the_prune_age_are_deleted_and_newer_ones_kept(
    tmp_path: Path,
) -> None:
    state_url = sqlite_url(tmp_path)
    day = 86400.0
    _finished_record(state_url, "old-request", time.time() - 3 * day)
    _finished_record(state_url, "recent-request", time.time() - 0.5 * day)
    _finished_record(state_url, "old-dataflow", time.time() - 3 * day, "created")
    with running_emulator() as emulator:
        prefix = f"prune{uuid.uuid4().hex[:8]}"
        settings = worker_settings("memory://", emulator, state_url, prefix, prune_after_days=1)
        with running_worker(settings) as worker:
            # The worker prunes once at start; a second pass finds nothing left to delete.
            deadline = time.monotonic() + 10
            while worker.ledger.get("old-request") is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert worker.ledger.get("old-request") is None
            assert worker.ledger.get("recent-request") is not None
            assert worker.ledger.get("old-dataflow") is not None  # its dataflow still exists
            assert worker.prune_finished() == 0


def test_liveness_reports_the_event_loop_and_fails_once_it_has_ended(tmp_path: Path) -> None:
    with running_emulator() as emulator:
        prefix = f"live{uuid.uuid4().hex[:8]}"
        settings = worker_settings("memory://", emulator, sqlite_url(tmp_path), prefix)
        with running_worker(settings) as worker:
            assert worker.liveness() == {"running": True, "event_loop": True}
        assert worker.liveness()["event_loop"] is False

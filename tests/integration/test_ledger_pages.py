"""Walking the whole ledger a page at a time (``audit``, ``onboard --prune``), in both variants."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from tests import ledger_ops as ops
from tests.integration.worker_support import postgres_schema
from worker.ledger import Ledger, RequestStatus, open_ledger

pytestmark = pytest.mark.integration

T0 = 1_800_000_000.0
Ending = Literal["created", "updated", "failed", "deleted"]


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """An empty ledger of each variant."""
    if request.param == "sqlite":
        with open_ledger(f"sqlite:///{tmp_path / 'pages.db'}") as opened:
            yield opened
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url, open_ledger(url) as led:
        yield led


def add(ledger: Ledger, request_id: str, ending: Ending | None = None, at: float = T0) -> None:
    """A record of ``request_id``: running, or finished as ``ending``."""
    fence = ledger.claim(request_id, "h", "{}", "e", "w", 30.0, at).fence
    assert fence is not None
    if ending is not None:
        ops.finish(ledger, request_id, fence, ending, b"e", now=at)


def test_pages_follow_each_other_by_request_id_until_a_short_one(ledger: Ledger) -> None:
    for index in (4, 0, 3, 1, 2):
        add(ledger, f"r-{index}")
    first = ledger.page(limit=2)
    second = ledger.page(after=first[-1].request_id, limit=2)
    third = ledger.page(after=second[-1].request_id, limit=2)
    assert [r.request_id for r in [*first, *second, *third]] == [f"r-{n}" for n in range(5)]
    assert len(third) == 1


def test_a_page_holds_only_the_statuses_asked_for(ledger: Ledger) -> None:
    add(ledger, "a", "created")
    add(ledger, "b", "updated")
    add(ledger, "c", "deleted")
    add(ledger, "d")
    assert [r.request_id for r in ledger.page(statuses=("created", "updated"))] == ["a", "b"]
    assert [r.request_id for r in ledger.page(after="a", statuses=("created", "updated"))] == ["b"]
    assert [r.status for r in ledger.page(statuses=["running"])] == ["running"]


def test_records_walks_every_record_once_whatever_the_page_size(ledger: Ledger) -> None:
    for index in range(7):
        add(ledger, f"r-{index:02d}", "created" if index % 2 else None, at=T0 + index)
    walked = [r.request_id for r in ledger.records(page_size=3)]
    assert walked == [f"r-{n:02d}" for n in range(7)]
    created: tuple[RequestStatus, ...] = ("created",)
    assert [r.request_id for r in ledger.records(created, page_size=2)] == [
        "r-01",
        "r-03",
        "r-05",
    ]
    assert list(ledger.records(["deleted"])) == []


def test_an_empty_ledger_has_no_pages(ledger: Ledger) -> None:
    assert ledger.page() == []
    assert list(ledger.records()) == []

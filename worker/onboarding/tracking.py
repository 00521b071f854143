"""Commands followed through the worker's events to their ends: a row each, and a report.

``onboard --wait``, ``delete --wait`` and ``enable``/``disable --wait`` follow what they
published until each request id has its terminal event (``DataflowCreated``, ``DataflowUpdated``,
``DataflowDeleted`` or ``DataflowFailed``). ``Tracker`` and ``render_report`` are pure: they turn
events into each row's status and rows into CSV or JSON. ``EventTap`` is the broker side: a
temporary exclusive queue bound to ``<prefix>.events`` *before* anything is published, so no
event can be missed.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from worker.broker import connection as broker
from worker.broker.topology import Topology, declare
from worker.config import BrokerTarget
from worker.core.steps import plan

TERMINAL = ("DataflowCreated", "DataflowUpdated", "DataflowDeleted", "DataflowFailed")
ENDINGS = {
    "DataflowCreated": "created",
    "DataflowUpdated": "updated",
    "DataflowDeleted": "deleted",
    "DataflowFailed": "failed",
}
"""A row's status once its command ended, by the terminal event's type."""

REPORT_FIELDS = ("table", "request_id", "status", "flow_id", "error")


@dataclass(frozen=True)
class TableRow:
    """One table of the manifest: its request and how far it got."""

    table: str
    request_id: str
    status: str
    flow_id: str | None = None
    error: str | None = None


def planned_steps(auto_mapping: bool) -> int:
    """How many StepCompleted events a request sends on its way to DataflowCreated."""
    return len(plan(auto_mapping=auto_mapping))


class Tracker:
    """Every row's status, updated from the events as they arrive.

    ``settled``: rows that need no event (nothing was published for them). ``revisions``: the
    revision published per request id; an event of an earlier revision (still ending when ours
    was published) is not ours. ``endings`` keeps each terminal event's data.
    """

    def __init__(
        self,
        rows: Sequence[TableRow],
        *,
        settled: Collection[str] = (),
        revisions: Mapping[str, int] | None = None,
    ) -> None:
        self._rows = {row.request_id: row for row in rows}
        self._finished = {request_id for request_id in settled if request_id in self._rows}
        self._revisions = dict(revisions or {})
        self.endings: dict[str, Mapping[str, Any]] = {}

    def observe(self, event_type: str, data: Mapping[str, Any]) -> TableRow | None:
        """Apply one event; return the row it changed, None when it is not about our requests."""
        request_id = str(data.get("request_id"))
        row = self._rows.get(request_id)
        if row is None or request_id in self._finished or self._earlier(request_id, data):
            return None
        if event_type == "StepCompleted":
            outcome = data.get("outcome")
            done = outcome if outcome in ("deleted", "kept") else "done"
            row = replace(row, status=f"running ({data.get('step')} {done})")
        elif event_type in ENDINGS:
            row = _ended(row, event_type, data)
            self._finished.add(request_id)
            self.endings[request_id] = data
        else:
            return None
        self._rows[request_id] = row
        return row

    def _earlier(self, request_id: str, data: Mapping[str, Any]) -> bool:
        ours, theirs = self._revisions.get(request_id), data.get("revision")
        return ours is not None and isinstance(theirs, int) and theirs < ours

    @property
    def done(self) -> bool:
        """True once every request has its terminal event."""
        return len(self._finished) == len(self._rows)

    @property
    def waiting(self) -> int:
        """How many requests still wait for their terminal event."""
        return len(self._rows) - len(self._finished)

    def rows(self, *, timed_out: bool = False) -> list[TableRow]:
        """Every row; those without a terminal event are ``timed out`` when the wait ended."""
        rows = list(self._rows.values())
        if not timed_out:
            return rows
        return [
            row
            if row.request_id in self._finished
            else replace(row, status="timed out", error=f"no terminal event ({row.status})")
            for row in rows
        ]


def _ended(row: TableRow, event_type: str, data: Mapping[str, Any]) -> TableRow:
    """The row once its terminal event arrived."""
    status = ENDINGS[event_type]
    if status == "failed":
        error = data.get("error") or {}
        step = data.get("step") or "-"
        message = f"{error.get('kind', '?')} at {step}: {error.get('message', '')}"
        return replace(row, status=status, error=message)
    if status == "deleted":  # the flow it had, if any
        flow = (data.get("deleted") or {}).get("dataflow")
        return replace(row, status=status, flow_id=None if flow is None else str(flow))
    return replace(row, status=status, flow_id=str(data.get("flow_id")))


def render_report(rows: Sequence[TableRow], fmt: str) -> str:
    """The rows as ``csv`` (a header line, then a line per table) or ``json`` (a list)."""
    if fmt == "json":
        return json.dumps([asdict(row) for row in rows], indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: value or "" for key, value in asdict(row).items()})
    return buffer.getvalue()


class EventTap:
    """A temporary exclusive queue on the events exchange; declare the topology first."""

    def __init__(self, target: BrokerTarget, topology: Topology) -> None:
        from kombu import Exchange, Queue

        self._connection = broker.connect(target)
        with broker.broker_errors("following the events"):
            channel = self._connection.channel()
            declare(channel, topology, delay_queues=not broker.uses_memory(target.url))
            exchange = Exchange(topology.events_exchange, type="topic", durable=True)
            name = f"{topology.prefix}.onboard.{uuid.uuid4().hex[:12]}"
            queue = Queue(name, exchange, routing_key="#", exclusive=True, auto_delete=True)
            self._queue = queue.bind(channel)
            self._queue.declare()

    def events(
        self,
        deadline: float,
        poll_seconds: float = 0.05,
        idle: Callable[[], None] | None = None,
    ) -> Iterator[tuple[str, Any]]:
        """Events as (type, data) as they arrive, until the caller stops or ``deadline`` passes.

        ``idle`` is called each time the queue was found empty (to show progress meanwhile).
        """
        while time.monotonic() < deadline:
            with broker.broker_errors("following the events"):
                message = self._queue.get(no_ack=True)
            if message is None:
                if idle is not None:
                    idle()
                time.sleep(poll_seconds)
                continue
            try:
                event = json.loads(message.body)
            except ValueError:
                continue  # not ours to judge: the worker only sends valid events
            if isinstance(event, dict):
                yield str(event.get("type")), dict(event.get("data") or {})

    def close(self) -> None:
        """Delete the queue and disconnect."""
        try:
            with broker.broker_errors("closing the event queue"):
                self._queue.delete()
        finally:
            self._connection.release()

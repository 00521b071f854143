"""What becomes of a delivery before its request runs: unreadable, refused, duplicate, busy (pure).

The engine decodes the message and claims its request in the ledger; these functions turn each
outcome that does not run the request into the machine's effects (:mod:`worker.core.machine`):
an unreadable message gives one ``DataflowFailed`` and is parked; a conflicting duplicate fails
alone; a duplicate of a finished request republishes its terminal event; a request leased by
another worker is handed back until the lease runs out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from messages.codec import InvalidMessageError
from worker.core import outcomes
from worker.core.delivery import ACK, COPY_HEADER, delay, park
from worker.core.effects import Done, Effect, Emit, Republish
from worker.core.record import Claim, RequestRecord

BUSY_MAX_SECONDS = 8.0


def invalid(error: InvalidMessageError, seed: str) -> list[Effect]:
    """An unreadable message: one ``invalid_message`` failure (id derived from ``seed``), parked."""
    payload = outcomes.invalid_failed(error)
    return [
        Emit(payload, outcomes.derived_id("invalid", seed)),
        Done(park("invalid_message", str(error), error.request_id), finished="failed"),
    ]


def circuit_open(seconds: float) -> list[Effect]:
    """The worker takes no work while its circuit is open: the message waits, uncounted."""
    return [Done(delay(seconds, "circuit_open"))]


def conflict(
    request_id: str, event_id: str, claim: Claim, headers: Mapping[str, Any]
) -> list[Effect]:
    """The request conflicts with what the ledger holds: this message fails alone, parked.

    Same revision, other content: ``fields`` lists what differs. A lower revision than one
    received: ``revision`` (a copy the worker made itself of a revision since replaced is
    acknowledged silently instead). A higher revision changing fixed fields: their names, and
    how to go on.
    """
    fields, record = claim.fields, claim.record
    if fields == ("revision",):
        if headers.get(COPY_HEADER):
            return [Done(ACK)]
        message = (
            f"request_id {request_id!r} is at revision {record.revision}; "
            "a lower revision is not applied"
        )
    elif claim.fixed:
        message = (
            f"a revision may not change {', '.join(fields)} of request_id {request_id!r}: "
            "use a new request_id (and delete the old dataflow)"
        )
    else:
        differing = f" ({', '.join(fields)} differ)" if fields else ""
        message = (
            f"request_id {request_id!r} is already used by a request with other content "
            f"at the same revision{differing}"
        )
    payload = outcomes.failed(
        request_id,
        step=None,
        info={"kind": "conflict", "message": message},
        attempts=0,
        created={},
        fields=outcomes.conflict_violations(fields, fixed=claim.fixed) if fields else None,
    )
    return [
        Emit(payload, outcomes.derived_id("conflict", event_id)),
        Done(park("conflict", message, request_id), finished="conflict"),
    ]


def unknown_deletion(request_id: str, event_id: str) -> list[Effect]:
    """A deletion of a request the ledger never saw: refused (``rejected``), parked."""
    message = f"no dataflow is recorded for request_id {request_id!r}; nothing to delete"
    payload = outcomes.failed(
        request_id,
        step=None,
        info={"kind": "rejected", "message": message},
        attempts=0,
        created={},
    )
    return [
        Emit(payload, outcomes.derived_id("unknown", event_id)),
        Done(park("rejected", message, request_id), finished="failed"),
    ]


def busy(record: RequestRecord, now: float) -> list[Effect]:
    """Another delivery holds the lease: come back when it should have run out (1-8 s)."""
    left = (record.lease_expires_at or 0.0) - now
    return [Done(delay(min(max(left, 1.0), BUSY_MAX_SECONDS), "busy"))]


def duplicate(
    record: RequestRecord,
    headers: Mapping[str, Any],
    event_id: str,
    redelivered: bool,
) -> list[Effect]:
    """The request already ended: republish its terminal event, unless this is our own copy.

    Our own copy delivered for the first time met a request another delivery finished, and is
    dropped silently. Delivered again, it may be the very delivery that finished the request and
    crashed before its terminal event was out: republishing it is the only way that event leaves.
    """
    if headers.get(COPY_HEADER) and not redelivered:
        return [Done(ACK)]
    effects: list[Effect] = []
    if record.terminal_event is not None:
        effects.append(Republish(record.terminal_event))
    if record.status == "failed" and redelivered and event_id == record.first_event_id:
        # A crash may have come between the terminal event and the parked copy.
        error = record.last_error or {"kind": "retries_exhausted", "message": ""}
        kind, message = str(error.get("kind")), str(error.get("message"))
        effects.append(Done(park(kind, message, record.request_id), finished="duplicate"))
        return effects
    effects.append(Done(ACK, finished="duplicate"))
    return effects

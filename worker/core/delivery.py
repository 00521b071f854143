"""A message taken from the requests queue, and how it is settled: domain values (pure).

The broker adapter hands a :class:`Delivery` up to the engine and receives a :class:`Settle`
back; no module below the engine sees a delivery, and the engine sees no kombu object. Settling
by ``delay`` or ``park`` means: a copy of the message is stored (confirmed by the broker) in a
delay queue or in the parking lot, then the delivery is acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# Header on the copies the worker makes of a request (a delayed retry, a hand-back): such a copy
# finding its request finished is acked silently instead of republishing the terminal event.
COPY_HEADER = "x-dataflow-copy"
FOLLOW_HEADER = "x-dataflow-follow"
ROUND_HEADER = "x-dataflow-follow-round"
REASON_HEADER = "x-dataflow-reason"
ERROR_HEADER = "x-dataflow-error"
REQUEST_HEADER = "x-dataflow-request-id"
_HEADER_TEXT = 1000
# Headers the broker owns: dead-lettering history and delivery counts are not copied.
_BROKER_HEADERS = ("x-death", "x-first-death-", "x-last-death-", "x-delivery-count")

SettleAction = Literal["ack", "requeue", "delay", "park"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message from the requests queue, as the engine sees it."""

    body: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    redelivered: bool = False


@dataclass(frozen=True, slots=True)
class Settle:
    """What becomes of a delivery once the engine is done with it.

    ``ack``: done. ``requeue``: back to the queue at once (counts toward poison). ``delay``: a copy
    comes back after ``seconds`` with ``headers`` added (the copy header says why). ``park``: a
    copy goes to the parking lot with ``headers`` saying why.
    """

    action: SettleAction
    seconds: float = 0.0
    headers: Mapping[str, Any] = field(default_factory=dict)


ACK = Settle("ack")
REQUEUE = Settle("requeue")


def delay(seconds: float, why: str, **extra: Any) -> Settle:
    """Settle by a copy that comes back after ``seconds`` (``why`` in the copy header)."""
    return Settle("delay", max(seconds, 0.0), {COPY_HEADER: why, **extra})


def park(kind: str, message: str, request_id: str | None) -> Settle:
    """Settle by a copy in the parking lot, with the reason in its headers."""
    return Settle("park", headers=park_headers(kind, message, request_id))


def park_headers(kind: str, message: str, request_id: str | None) -> dict[str, Any]:
    """The headers of a message sent to the parking lot: why, and for which request."""
    headers: dict[str, Any] = {REASON_HEADER: kind, ERROR_HEADER: message[:_HEADER_TEXT]}
    if request_id is not None:
        headers[REQUEST_HEADER] = request_id[:_HEADER_TEXT]
    return headers


def copy_headers(headers: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The headers of a copy: the original's without the broker's own, plus ``extra``."""
    kept = {k: v for k, v in headers.items() if not k.startswith(_BROKER_HEADERS)}
    return {**kept, **extra}

"""Following the first run of a new dataflow (`follow_runs`) without holding a message.

After `DataflowCreated` the engine puts a copy of the request in a delay tier with the flow id in
`x-dataflow-follow`. Each time the copy comes back the first run is looked at: once it finished,
`DataflowRunCompleted` is published (id derived from the flow and run, so a repeat is the same
event) and recorded in the ledger; until then the copy is delayed again, for longer each round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from worker.broker.consumer import Delivery, Settle
from worker.broker.delay import COPY_HEADER, copy_headers
from worker.core import outcomes
from worker.core.runs import first_run, run_completed
from worker.engine.execution import RequestContext
from worker.errors import BrokerError, LedgerError, PlatformError

if TYPE_CHECKING:
    from worker.engine.engine import Engine

log = structlog.get_logger()

FOLLOW_HEADER = "x-dataflow-follow"
ROUND_HEADER = "x-dataflow-follow-round"
FIRST_WAIT_SECONDS = 16.0
MAX_WAIT_SECONDS = 1024.0
MAX_ROUNDS = 100  # with the 1024 s cap: about a day of waiting for the first run


def follow_headers(flow_id: str, round_: int) -> dict[str, object]:
    """The headers of a follow copy."""
    return {COPY_HEADER: "follow", FOLLOW_HEADER: flow_id, ROUND_HEADER: round_}


def wait_seconds(round_: int, first: float = FIRST_WAIT_SECONDS) -> float:
    """How long the copy waits before round `round_` (`first`, then doubling, capped)."""
    return float(min(first * 2 ** max(round_ - 1, 0), MAX_WAIT_SECONDS))


def schedule(engine: Engine, delivery: Delivery, flow_id: str, round_: int) -> None:
    """Put a follow copy in the delay tier for `round_`; a failure only stops following."""
    try:
        engine.delay.delay(
            delivery.body,
            message_id=delivery.message_id,
            seconds=wait_seconds(round_, engine.config.follow_first_wait_seconds),
            headers=copy_headers(delivery.headers, **follow_headers(flow_id, round_)),
        )
    except BrokerError as error:
        log.warning("follow_not_scheduled", flow_id=flow_id, error=str(error))


def follow(engine: Engine, delivery: Delivery, context: RequestContext) -> Settle:
    """Look at the first run once: report it when it finished, else wait another round."""
    flow_id = str(delivery.headers[FOLLOW_HEADER])
    round_ = int(delivery.headers.get(ROUND_HEADER) or 1)
    request_id = context.request.request_id
    try:
        run = first_run(engine.actions.runs(context, flow_id))
    except PlatformError as error:
        log.info("follow_lookup_failed", flow_id=flow_id, error=str(error))
        run = None
    payload = run_completed(request_id, flow_id, run) if run is not None else None
    if payload is None:
        if round_ >= MAX_ROUNDS:
            log.warning("follow_gave_up", flow_id=flow_id, rounds=round_)
            return Settle.ACK
        schedule(engine, delivery, flow_id, round_ + 1)
        return Settle.ACK
    try:
        event_id = outcomes.derived_id("run", flow_id, payload.run_id)
        engine.reporter.event(payload, event_id=event_id)
        engine.ledger.record_run(request_id, payload.model_dump(mode="json"))
    except (BrokerError, LedgerError) as error:
        log.warning("run_not_reported", error=str(error))
        return Settle.REQUEUE
    log.info("run_completed", flow_id=flow_id, run_id=payload.run_id, status=payload.status)
    return Settle.ACK

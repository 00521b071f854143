"""The engine: what one delivery of the requests queue becomes, from bytes to its settle action.

Decode, claim the request in the ledger (a ``DataflowRequested`` of any revision, or a
``DataflowDeletionRequested``), run it (:mod:`worker.engine.runner`), and return how to settle
the delivery: every message ends acked after what it produced was confirmed by the broker
(events, a delayed copy, a parked copy), or waits as a copy when the worker cannot take it now
(circuit open, another worker holds the lease, shutting down). The worker never crashes on input:
every unreadable message gives one DataflowFailed (kind ``invalid_message``) and is parked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog

from messages.codec import InvalidMessageError, canonical_content, decode_command, hash_of
from messages.envelope import Event
from messages.models import DataflowDeletionRequested, DataflowRequested
from worker.core import admission, outcomes
from worker.core.delivery import ACK, REQUEUE, Delivery, Settle, delay
from worker.core.effects import Done, Effect, Emit, Republish
from worker.core.facts import Facts, Limits
from worker.core.follow import followed, next_round
from worker.core.machine import Machine
from worker.core.record import Claim, RequestRecord
from worker.core.retry import RetryPolicy
from worker.core.runs import first_run, run_completed
from worker.core.steps import Step, plan, reuses
from worker.engine.actions import RequestContext, step_name
from worker.engine.runner import RequestRun
from worker.engine.tools import Tools
from worker.errors import BrokerError, LedgerError, PlatformError

log = structlog.get_logger()


@dataclass(frozen=True)
class EngineConfig:
    """The part of the settings the engine needs."""

    owner: str
    default_sandbox: str = "prod"
    lease_seconds: float = 15.0
    poison_deliveries: int = 5
    follow_runs: bool = False
    follow_first_wait_seconds: float = 16.0  # the wait before the first look at a run
    handback_seconds: float = 2.0
    max_message_bytes: int | None = None  # refused before parsing (invalid_message)
    policy: RetryPolicy = field(default_factory=RetryPolicy)


class Engine:
    """Turns each delivery into Platform calls, ledger writes, events and one settle action."""

    def __init__(self, *, config: EngineConfig, tools: Tools) -> None:
        self.config = config
        self._tools = tools
        self._limits = Limits(
            policy=config.policy,
            poison_deliveries=config.poison_deliveries,
            handback_seconds=config.handback_seconds,
        )
        self._runs: set[RequestRun] = set()
        self._stopping = False

    @property
    def in_flight(self) -> int:
        """Requests running now."""
        return len(self._runs)

    def interrupt(self) -> None:
        """Shutting down: running requests hand their message back once their calls end."""
        self._stopping = True
        for run in list(self._runs):
            run.interrupt()

    async def handle(self, delivery: Delivery) -> Settle:
        """Process one delivery; return how to settle it.

        Run it as a task of its own: its log context (message and request ids) is bound in the
        task's context, which dies with it.
        """
        metrics = self._tools.telemetry.metrics
        structlog.contextvars.bind_contextvars(message_id=delivery.message_id)
        try:
            event = decode_command(delivery.body, max_bytes=self.config.max_message_bytes)
        except InvalidMessageError as error:
            metrics.count_received(error.event_type)
            return await self._invalid(delivery, error)
        metrics.count_received(event.type)
        age = self._tools.clock() - event.time.timestamp()
        metrics.message_age_seconds.observe(max(age, 0.0))
        structlog.contextvars.bind_contextvars(request_id=event.data.request_id)
        if isinstance(event.data, DataflowDeletionRequested):
            return await self._deletion(delivery, event, event.data)
        return await self._request(delivery, event, event.data)

    async def _invalid(self, delivery: Delivery, error: InvalidMessageError) -> Settle:
        log.warning("message_invalid", error=str(error))
        seed = delivery.message_id or outcomes.derived_id(delivery.body.hex())
        return await self._carry_out(admission.invalid(error, seed))

    async def _request(
        self, delivery: Delivery, event: Event, request: DataflowRequested
    ) -> Settle:
        tools, config = self._tools, self.config
        if self._stopping:  # draining: another worker takes it at once
            return REQUEUE
        if tools.breaker.is_open:
            return await self._carry_out(admission.circuit_open(config.handback_seconds))
        canonical = canonical_content(request)
        try:
            claim = await tools.ledger.aclaim(
                request.request_id,
                hash_of(canonical),
                canonical.decode(),
                event.id,
                config.owner,
                config.lease_seconds,
                now=tools.clock(),
                intents=self._machine(request, _NO_RECORD).intents(_NO_RECORD),
                revision=request.revision,
            )
        except LedgerError as error:
            log.warning("ledger_unavailable", error=str(error))
            return delay(config.handback_seconds, "ledger_unavailable")
        if claim.outcome == "conflict":
            log.warning("request_conflict", fields=list(claim.fields))
            effects = admission.conflict(request.request_id, event.id, claim, delivery.headers)
            return await self._carry_out(effects)
        if claim.outcome == "superseded":
            log.info("request_superseded", revision=request.revision)
            return ACK
        if claim.outcome == "finished":
            follow = followed(delivery.headers)
            if follow is not None:
                return await self._follow(claim.record, request, *follow)
            effects = admission.duplicate(
                claim.record, delivery.headers, event.id, delivery.redelivered
            )
            return await self._carry_out(effects)
        if claim.outcome == "busy":
            return await self._carry_out(admission.busy(claim.record, tools.clock()))
        assert claim.fence is not None
        return await self._run(request, claim, self._machine(request, claim.record))

    async def _deletion(
        self, delivery: Delivery, event: Event, deletion: DataflowDeletionRequested
    ) -> Settle:
        tools, config = self._tools, self.config
        if self._stopping:
            return REQUEUE
        if tools.breaker.is_open:
            return await self._carry_out(admission.circuit_open(config.handback_seconds))
        log.info("deletion_requested", reason=deletion.reason)
        try:
            claim = await tools.ledger.aclaim_deletion(
                deletion.request_id,
                event.id,
                deletion.reason,
                config.owner,
                config.lease_seconds,
                now=tools.clock(),
            )
        except LedgerError as error:
            log.warning("ledger_unavailable", error=str(error))
            return delay(config.handback_seconds, "ledger_unavailable")
        if claim.outcome == "unknown":
            return await self._carry_out(admission.unknown_deletion(deletion.request_id, event.id))
        if claim.outcome == "finished":
            effects = admission.duplicate(
                claim.record, delivery.headers, event.id, delivery.redelivered
            )
            return await self._carry_out(effects)
        if claim.outcome == "busy":
            return await self._carry_out(admission.busy(claim.record, tools.clock()))
        assert claim.fence is not None
        request = DataflowRequested.model_validate_json(claim.record.request_json)
        return await self._run(request, claim, self._machine(request, claim.record))

    def _machine(self, request: DataflowRequested, record: RequestRecord) -> Machine:
        """The step machine of one request: its plan, names and wishes."""
        config = self.config
        flow_state = not request.enabled or Step.FLOW_STATE.value in record.steps
        steps = plan(auto_mapping=request.mapping_mode == "auto", flow_state=flow_state)
        follow = request.follow_runs if request.follow_runs is not None else config.follow_runs
        facts = Facts(
            request_id=request.request_id,
            plan=steps,
            reuses=frozenset(step for step in steps if reuses(step, request)),
            names={step: step_name(step, request) for step in steps},
            rollback=request.on_failure == "rollback",
            follow=follow,
            follow_first_wait=config.follow_first_wait_seconds,
            enabled=request.enabled,
        )
        return Machine(facts, self._limits)

    async def _run(self, request: DataflowRequested, claim: Claim, machine: Machine) -> Settle:
        config, record = self.config, claim.record
        assert claim.fence is not None
        context = RequestContext(
            request,
            request.sandbox or config.default_sandbox,
            created_at=record.command_started_at,
            exact_mappings=record.revision > 1,
        )
        run = RequestRun(
            self._tools, machine, context, record, claim.fence, config.lease_seconds, claim.started
        )
        metrics = self._tools.telemetry.metrics
        self._runs.add(run)
        metrics.requests_in_flight.inc()
        try:
            if self._stopping:
                run.interrupt()
            return await run.run()
        finally:
            self._runs.discard(run)
            metrics.requests_in_flight.dec()

    async def _follow(
        self, record: RequestRecord, request: DataflowRequested, flow_id: str, round_: int
    ) -> Settle:
        """Look at the flow's first run once: report it when it finished, else wait longer."""
        tools = self._tools
        context = RequestContext(request, request.sandbox or self.config.default_sandbox)
        try:
            run = first_run(await tools.actions.runs(context, flow_id))
        except PlatformError as error:
            log.info("follow_lookup_failed", flow_id=flow_id, error=str(error))
            run = None
        payload = run_completed(record.request_id, flow_id, run) if run is not None else None
        if payload is None:
            return next_round(flow_id, round_, self.config.follow_first_wait_seconds)
        try:
            event_id = outcomes.derived_id("run", flow_id, payload.run_id)
            await tools.reporter.event(payload, event_id=event_id)
            await tools.ledger.arecord_run(record.request_id, payload.model_dump(mode="json"))
        except (BrokerError, LedgerError) as error:
            log.warning("run_not_reported", error=str(error))
            return REQUEUE
        log.info("run_completed", flow_id=flow_id, run_id=payload.run_id, status=payload.status)
        return ACK

    async def _carry_out(self, effects: list[Effect]) -> Settle:
        """Publish what the effects owe (confirmed), then return their settle."""
        tools = self._tools
        confirms: list[asyncio.Future[None]] = []
        for effect in effects:
            if isinstance(effect, Emit):
                confirms.append(tools.reporter.event(effect.payload, event_id=effect.event_id))
            elif isinstance(effect, Republish):
                confirms.append(tools.reporter.republish(effect.body))
            elif isinstance(effect, Done):
                try:
                    await asyncio.gather(*confirms)
                except BrokerError as error:
                    log.warning("events_not_confirmed", error=str(error))
                    return REQUEUE
                tools.telemetry.done(effect)
                return effect.settle
        raise AssertionError("admission effects end in Done")


# A record with no step started: what the claim may start for a request seen for the first time.
_NO_RECORD = RequestRecord("", "", "", "", "pending", 0.0, 0.0)

"""One claimed request, from its lease to its settle: the machine decides, this module executes.

The runner feeds the step machine (:mod:`worker.core.machine`) its observations and carries out
the effects it returns, in order: ledger writes (awaited: each is durable before the next effect),
Platform calls (tasks that run side by side and report back), events (published at once; every
confirm is awaited before the delivery is settled), the breaker, the settle. It decides nothing:
when a write or a publish fails, the failure becomes an observation too.

The lease is short and renewed while the request runs (:class:`LeaseKeeper`), so a killed
worker's requests are taken over within seconds; a renewal that finds the lease taken over
cancels the request's calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from worker.broker.reporter import Reporter
from worker.core import outcomes
from worker.core.changes import Finish, RenewLease
from worker.core.delivery import REQUEUE, Settle
from worker.core.effects import (
    Begin,
    Call,
    CancelCalls,
    Conclude,
    Deleted,
    DeleteResult,
    Done,
    Effect,
    Emit,
    Failed,
    Failure,
    Interrupted,
    LookedUp,
    Observation,
    Republish,
    State,
    Succeeded,
    TripBreaker,
    Write,
)
from worker.core.machine import Machine
from worker.core.record import RequestRecord
from worker.core.steps import Step
from worker.engine.actions import Actions, RequestContext
from worker.engine.breaker import Breaker
from worker.engine.telemetry import Telemetry
from worker.errors import (
    AuthenticationError,
    BrokerError,
    InUseError,
    LeaseLostError,
    LedgerError,
    NotFoundError,
    OutcomeUnknownError,
    PlatformError,
)
from worker.ledger import Ledger

log = structlog.get_logger()


@dataclass(frozen=True)
class Tools:
    """What every request run uses: the ledger, the Platform, events, the breaker, telemetry."""

    ledger: Ledger
    actions: Actions
    reporter: Reporter
    breaker: Breaker
    telemetry: Telemetry
    clock: Callable[[], float] = time.time
    jitter: Callable[[], float] = lambda: 0.5


class LeaseKeeper:
    """Renews a request's lease every third of its length while the request runs."""

    def __init__(
        self,
        tools: Tools,
        request_id: str,
        fence: int,
        seconds: float,
        on_lost: Callable[[Interrupted], None],
        lock: asyncio.Lock,
    ) -> None:
        self._tools = tools
        self._request_id = request_id
        self._fence = fence
        self._seconds = seconds
        self._on_lost = on_lost
        self._lock = lock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin renewing."""
        self._task = asyncio.get_running_loop().create_task(self._keep())

    def stop(self) -> None:
        """Stop renewing (the request settled, or released its lease)."""
        if self._task is not None:
            self._task.cancel()

    async def _keep(self) -> None:
        clock, ledger = self._tools.clock, self._tools.ledger
        renewed = clock()
        while True:
            await asyncio.sleep(self._seconds / 3)
            try:
                async with self._lock:
                    await ledger.aapply(self._request_id, self._fence, [RenewLease(self._seconds)])
                renewed = clock()
            except LeaseLostError:
                self._on_lost(Interrupted("lease_lost", clock()))
                return
            except LedgerError as error:
                log.warning("lease_not_renewed", error=str(error))
                if clock() - renewed >= self._seconds:  # it ran out: another worker may take over
                    self._on_lost(Interrupted("ledger", clock()))
                    return


class RequestRun:
    """Runs one claimed request to its settle."""

    def __init__(
        self,
        tools: Tools,
        machine: Machine,
        context: RequestContext,
        record: RequestRecord,
        fence: int,
        lease_seconds: float,
        started: tuple[str, ...] = (),
    ) -> None:
        self._tools = tools
        self._machine = machine
        self._started = frozenset(started)
        self._context = context
        self._record = record
        self._fence = fence
        self._request_id = record.request_id
        self._observations: asyncio.Queue[Observation] = asyncio.Queue()
        self._calls: set[asyncio.Task[None]] = set()
        self._confirms: list[asyncio.Future[None]] = []
        self._lock = asyncio.Lock()
        self._pending_writes: list[asyncio.Task[None]] = []
        self._write_failure: LedgerError | None = None
        self._keeper = LeaseKeeper(
            tools, self._request_id, fence, lease_seconds, self._observations.put_nowait, self._lock
        )
        self._state: State | None = None

    def interrupt(self) -> None:
        """Ask the request to stop: running calls end, then it hands its message back."""
        self._observations.put_nowait(Interrupted("shutdown", self._tools.clock()))

    async def run(self) -> Settle:
        """Decide, execute, observe, until the machine settles the delivery."""
        self._context.resources.update(self._record.done())
        self._keeper.start()
        try:
            begin = Begin(self._tools.clock(), self._started)
            state, effects = self._machine.begin(self._record, begin)
            while True:
                self._state = state
                settle = await self._execute_all(effects)
                if settle is not None:
                    return settle
                observation = await self._observations.get()
                state, effects = self._machine.observe(self._state, observation)
        finally:
            self._keeper.stop()
            for task in self._calls:
                task.cancel()

    async def _execute_all(self, effects: list[Effect]) -> Settle | None:
        """Carry the effects out in order; a failing write or publish becomes an observation."""
        try:
            for effect in effects:
                settle = await self._execute(effect)
                if settle is not None:
                    return settle
            return None
        except LeaseLostError:
            why: Interrupted = Interrupted("lease_lost", self._tools.clock())
        except LedgerError as error:
            log.warning("request_interrupted", error=str(error))
            why = Interrupted("ledger", self._tools.clock())
        except BrokerError as error:
            log.warning("request_interrupted", error=str(error))
            why = Interrupted("broker", self._tools.clock())
        assert self._state is not None
        state, more = self._machine.observe(self._state, why)
        self._state = state
        return await self._execute_all(more)

    async def _execute(self, effect: Effect) -> Settle | None:
        tools = self._tools
        if isinstance(effect, Write):
            if effect.changes:
                await self._write(effect)
        elif isinstance(effect, Call):
            self._start(effect)
        elif isinstance(effect, Emit):
            self._confirms.append(tools.reporter.event(effect.payload, event_id=effect.event_id))
            tools.telemetry.emitted(effect.payload)
        elif isinstance(effect, Conclude):
            await self._conclude(effect)
        elif isinstance(effect, Republish):
            self._confirms.append(tools.reporter.republish(effect.body))
        elif isinstance(effect, TripBreaker):
            tools.breaker.trip(effect.reason)
        elif isinstance(effect, CancelCalls):
            for task in self._calls:
                task.cancel()
        elif isinstance(effect, Done):
            return await self._done(effect)
        return None

    async def _write(self, effect: Write) -> None:
        if effect.pipelined:  # in order, without holding up the effects after it
            task = asyncio.get_running_loop().create_task(self._pipelined(effect))
            self._pending_writes.append(task)
            return
        await self._writes_done()
        try:
            async with self._lock:
                await self._tools.ledger.aapply(self._request_id, self._fence, effect.changes)
        except LedgerError as error:
            if not effect.best_effort:
                raise
            log.warning("release_failed", error=str(error))  # the lease runs out on its own

    async def _pipelined(self, effect: Write) -> None:
        """A write no effect waits for; a failure interrupts the request like any other."""
        try:
            async with self._lock:  # fair: pipelined writes keep the order they were started in
                await self._tools.ledger.aapply(self._request_id, self._fence, effect.changes)
        except LeaseLostError as error:
            self._write_failure = self._write_failure or error
            self._observations.put_nowait(Interrupted("lease_lost", self._tools.clock()))
        except LedgerError as error:
            log.warning("request_interrupted", error=str(error))
            self._write_failure = self._write_failure or error
            self._observations.put_nowait(Interrupted("ledger", self._tools.clock()))

    async def _writes_done(self) -> None:
        """Wait for the pipelined writes; raise the first failure among them."""
        pending, self._pending_writes = self._pending_writes, []
        if pending:
            await asyncio.gather(*pending)
        if self._write_failure is not None:
            raise self._write_failure

    async def _conclude(self, effect: Conclude) -> None:
        reporter = self._tools.reporter
        event = reporter.encode(effect.payload)
        finish = Finish(effect.status, event.body, effect.error)
        await self._write(Write((*effect.changes, finish)))
        for emit in effect.before:
            await self._execute(emit)
        self._confirms.append(reporter.send(event))
        self._tools.telemetry.concluded(effect)

    async def _done(self, effect: Done) -> Settle:
        """Every write is durable and every event confirmed before the delivery is settled."""
        try:
            await self._writes_done()
        except LedgerError:
            return REQUEUE  # progress not recorded: the request runs again (it looks up first)
        try:
            if self._confirms:
                await asyncio.gather(*self._confirms)
        except BrokerError as error:
            log.warning("events_not_confirmed", error=str(error))
            return REQUEUE
        self._tools.telemetry.done(effect, self._state.record if self._state else self._record)
        return effect.settle

    # -- calls -----------------------------------------------------------------------------

    def _start(self, call: Call) -> None:
        task = asyncio.get_running_loop().create_task(self._call(call))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _call(self, call: Call) -> None:
        """Run one step's call and report what happened."""
        step, tools, context = call.step, self._tools, self._context
        started = time.perf_counter()
        try:
            observation = await self._perform(call)
        except asyncio.CancelledError:
            raise
        except PlatformError as error:
            observation = self._failure(step, error, call)
        except Exception:  # a bug: the request hands its message back; poison bounds the loop
            log.exception("step_crashed", step=step.value)
            observation = Interrupted("crash", tools.clock())
        if isinstance(observation, Succeeded | LookedUp) and observation.resource_id is not None:
            context.resources[step.value] = observation.resource_id
            if step is not Step.FLOW_SPEC:  # the flow spec is cached: no proof of health
                tools.breaker.record_success()
        tools.telemetry.called(call, time.perf_counter() - started)
        self._observations.put_nowait(observation)

    async def _perform(self, call: Call) -> Observation:
        step, actions, context = call.step, self._tools.actions, self._context
        name = self._machine.facts.names.get(step)
        started, now = time.perf_counter(), self._tools.clock
        if call.mode == "create":
            resource_id = await actions.create(step, context, name)
            return Succeeded(step, resource_id, "created", time.perf_counter() - started, now())
        if call.mode == "reuse":
            resource_id = await actions.reuse(step, context)
            return Succeeded(step, resource_id, "reused", time.perf_counter() - started, now())
        if call.mode == "lookup":
            found = await actions.find(step, context, name)
            return LookedUp(step, found, time.perf_counter() - started, now())
        assert self._state is not None
        known = self._state.record.step(step.value).resource_id
        if call.mode == "update":
            resource_id, outcome = await actions.update(step, context, known)
            return Succeeded(step, resource_id, outcome, time.perf_counter() - started, now())
        return await self._delete(step, known, name)

    async def _delete(self, step: Step, known: str | None, name: str | None) -> Deleted:
        """Delete a step's resource; one started without a recorded result is looked up first."""
        actions, context, started = self._tools.actions, self._context, time.perf_counter()
        made = known if known is not None else await actions.find(step, context, name)
        if made is None:
            return Deleted(step, "absent", None, 0.0, self._tools.clock())
        try:
            await actions.delete(step, context, made)
            result: DeleteResult = "deleted"
        except NotFoundError:
            log.info("already_deleted", step=step.value)
            result = "deleted"
        except InUseError as error:
            log.info("kept_in_use", step=step.value, error=str(error))
            result = "in_use"
        return Deleted(step, result, made, time.perf_counter() - started, self._tools.clock())

    def _failure(self, step: Step, error: PlatformError, call: Call) -> Observation:
        tools = self._tools
        log.warning("step_failed", step=step.value, mode=call.mode, error=str(error))
        if isinstance(error, AuthenticationError):
            kind = "authentication"
        elif isinstance(error, OutcomeUnknownError):
            kind = "outcome_unknown"
        elif error.retryable:
            kind = "retryable"
        else:
            kind = "rejected"
        opened = kind in ("retryable", "outcome_unknown") and tools.breaker.record_failure()
        failure = Failure(
            kind,  # type: ignore[arg-type]
            outcomes.failure_info(error),
            retry_after_seconds=error.retry_after_seconds,
            breaker_open=tools.breaker.is_open,
            opened_breaker=opened,
            jitter=tools.jitter(),
            # The gateway answers 429 before doing anything: the create was not applied.
            not_applied=call.mode == "create" and error.status == 429,
        )
        return Failed(step, failure, tools.clock())

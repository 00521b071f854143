"""One claimed request, from its lease to its settle: the machine decides, this module executes.

The runner feeds the step machine (:mod:`worker.core.machine`) its observations and carries out
the effects it returns, in order: ledger writes (awaited: each is durable before the next effect),
Platform calls (tasks that run side by side and report back), events (published at once; every
confirm is awaited before the delivery is settled), the breaker, the settle. It decides nothing:
when a write or a publish fails, the failure becomes an observation too.

Hand-overs between tasks are what a request waits for beyond its round trips (each is a round of
a busy loop), so there are few: whoever observes drives (a call's task goes on with the effects
of its own answer), the first call those effects start is made by the same task, and a check the
client can answer from its cache (the flow spec) is answered inline. docs/adr/0001 has the
figures. The lease is short and renewed while the request runs (:mod:`worker.engine.lease`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import structlog

from worker.core.changes import Finish
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
from worker.engine.actions import RequestContext
from worker.engine.failure import failed
from worker.engine.lease import LeaseKeeper
from worker.engine.tools import Tools
from worker.errors import (
    BrokerError,
    InUseError,
    LeaseLostError,
    LedgerError,
    NotFoundError,
    PlatformError,
)

log = structlog.get_logger()


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
        self._pending: deque[Observation] = deque()  # observed, not yet decided on
        self._driving = False  # a task is carrying out effects (it decides on what comes)
        self._settled: asyncio.Future[Settle] = asyncio.get_running_loop().create_future()
        self._calls: set[asyncio.Task[None]] = set()
        self._drivers: set[asyncio.Task[None]] = set()
        # While a call's task drives, the first call its effects start is kept for that task to
        # make next, instead of a new task's first run a round of the loop later.
        self._continuing = False
        self._next_call: Call | None = None
        self._confirms: list[asyncio.Future[None]] = []
        self._lock = asyncio.Lock()
        self._pending_writes: list[asyncio.Task[None]] = []
        self._write_failure: LedgerError | None = None
        self._keeper = LeaseKeeper(
            tools, self._request_id, fence, lease_seconds, self._observe, self._lock
        )
        self._state: State | None = None

    def interrupt(self) -> None:
        """Ask the request to stop: running calls end, then it hands its message back."""
        self._observe(Interrupted("shutdown", self._tools.clock()))

    async def run(self) -> Settle:
        """Decide, execute, observe, until the machine settles the delivery."""
        self._context.resources.update(self._record.done())
        self._keeper.start()
        try:
            begin = Begin(self._tools.clock(), self._started)
            self._state, effects = self._machine.begin(self._record, begin)
            await self._drive(effects)
            return await self._settled
        finally:
            self._keeper.stop()
            this = asyncio.current_task()
            for task in (*self._calls, *self._drivers):
                if task is not this:
                    task.cancel()

    async def _drive(self, effects: list[Effect], *, continuing: bool = False) -> None:
        """Carry the effects out, then decide on what was observed meanwhile, until nothing is.

        Whoever observes while nobody drives drives: a call's task goes on with the effects of
        its own answer, so the next call starts in the round the answer arrived in, not after
        a hand-over to another task. One driver at a time keeps the machine's order.
        """
        if self._driving:  # the driver decides on what was observed once its effects are out
            assert not effects, "effects are carried out by one driver at a time"
            return
        self._driving, self._continuing = True, continuing
        this = asyncio.current_task()
        if this is not None:
            self._drivers.add(this)
        try:
            while not self._settled.done():
                settle = await self._execute_all(effects)
                if settle is not None:
                    self._settled.set_result(settle)
                elif self._pending:
                    observation = self._pending.popleft()
                    assert self._state is not None
                    self._state, effects = self._machine.observe(self._state, observation)
                    continue
                return
        except Exception as error:  # a bug: the delivery's handler sees it (the message goes back)
            if not self._settled.done():
                self._settled.set_exception(error)
        finally:
            self._driving = self._continuing = False
            if this is not None:
                self._drivers.discard(this)

    def _observe(self, observation: Observation) -> None:
        """An observation from a callback (lease lost, shutdown, a failed pipelined write)."""
        self._pending.append(observation)
        if not self._driving and not self._settled.done():
            task = asyncio.get_running_loop().create_task(self._drive([]))
            self._drivers.add(task)  # until it runs (then it is its own driver)
            task.add_done_callback(self._drivers.discard)

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
        self._state, more = self._machine.observe(self._state, why)
        return await self._execute_all(more)

    async def _execute(self, effect: Effect) -> Settle | None:
        tools = self._tools
        kept = self._next_call
        if kept is not None and isinstance(effect, Write | Conclude | Done | CancelCalls):
            self._next_call = None  # a kept call must not wait for what follows: a task of its own
            self._spawn(kept)
        if isinstance(effect, Write):
            if effect.changes:
                await self._write(effect)
        elif isinstance(effect, Call):
            if not self._answered(effect):
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
            self._observe(Interrupted("lease_lost", self._tools.clock()))
        except LedgerError as error:
            log.warning("request_interrupted", error=str(error))
            self._write_failure = self._write_failure or error
            self._observe(Interrupted("ledger", self._tools.clock()))

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

    def _answered(self, call: Call) -> bool:
        """Answer a check the client knows already (a cached flow spec) at once, without a task.

        Its observation is queued now, so the machine sees it as soon as these effects are
        carried out: the steps after it start in this round of the loop, not three rounds later.
        """
        if call.mode != "reuse":
            return False
        resource_id = self._tools.actions.known(call.step, self._context)
        if resource_id is None:
            return False
        self._context.resources[call.step.value] = resource_id
        now = self._tools.clock()
        self._pending.append(Succeeded(call.step, resource_id, "reused", 0.0, now))
        return True

    def _start(self, call: Call) -> None:
        if self._continuing and self._next_call is None:
            self._next_call = call
        else:
            self._spawn(call)

    def _spawn(self, call: Call) -> None:
        task = asyncio.get_running_loop().create_task(self._calls_from(call))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _calls_from(self, first: Call) -> None:
        """Make a call, drive the request on with its answer, and make the call that started
        (if it was kept for this task)."""
        this = asyncio.current_task()
        call: Call | None = first
        while call is not None:
            observation = await self._call(call)
            self._pending.append(observation)
            if this is not None:
                self._calls.discard(this)  # its call is over: cancelling calls spares its driving
            await self._drive([], continuing=True)
            call, self._next_call = self._next_call, None
            if self._settled.done():  # settled (a bug, if a call was kept): nothing more to make
                call = None
            if call is not None and this is not None:
                self._calls.add(this)

    async def _call(self, call: Call) -> Observation:
        """Run one step's call; what happened."""
        step, tools, context = call.step, self._tools, self._context
        started = time.perf_counter()
        try:
            observation = await self._perform(call)
        except asyncio.CancelledError:
            raise
        except PlatformError as error:
            observation = failed(step, error, call, self._tools)
        except Exception:  # a bug: the request hands its message back; poison bounds the loop
            log.exception("step_crashed", step=step.value)
            observation = Interrupted("crash", tools.clock())
        if isinstance(observation, Succeeded | LookedUp) and observation.resource_id is not None:
            context.resources[step.value] = observation.resource_id
            if step is not Step.FLOW_SPEC:  # the flow spec is cached: no proof of health
                tools.breaker.record_success()
        tools.telemetry.called(call, time.perf_counter() - started)
        return observation

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

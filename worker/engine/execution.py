"""Runs the steps of one claimed request against the Platform actions and the ledger.

Each create is preceded by its intent in the ledger (the name it will use). A step whose intent
exists from an earlier attempt, or whose create ended with an unknown outcome, first looks its
resource up by name and adopts it (`found`); a first attempt never looks up, which keeps the happy
path at one Platform call per created resource (docs/adr/0007-idempotency.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from messages.models import DataflowRequested
from worker.core.steps import CREATED, FOUND, REUSED, Step, next_step, plan, reuses
from worker.errors import OutcomeUnknownError, PlatformError
from worker.ledger import Ledger, RequestRecord, StepRecord

log = structlog.get_logger()
# `RequestContext.extras` key: when the ledger first saw the request (epoch seconds); nothing the
# request created is older, which bounds the search for an unnamed resource (mapping sets).
REQUEST_CREATED_AT = "request_created_at"


@dataclass
class RequestContext:
    """What the actions of one request share: the request, its sandbox, what exists so far."""

    request: DataflowRequested
    sandbox: str
    resources: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


class Actions(Protocol):
    """What each step does on the Platform (see `worker.engine.actions` for the real one)."""

    def name(self, step: Step, context: RequestContext) -> str | None:
        """The name (title) the step's resource gets (contract 2.4); None when it has none."""

    def reuse(self, step: Step, context: RequestContext) -> str:
        """Look up and check a resource the step does not create (flow spec, supplied ids)."""

    def create(self, step: Step, context: RequestContext, name: str | None) -> str:
        """Create the step's resource; return its id."""

    def find(self, step: Step, context: RequestContext, name: str | None) -> str | None:
        """The id of the step's resource named `name` (unnamed: matched by content), or None."""

    def delete(self, step: Step, context: RequestContext, resource_id: str) -> None:
        """Delete the step's resource."""

    def runs(self, context: RequestContext, flow_id: str) -> list[dict[str, Any]]:
        """Every run of a flow (for `follow_runs`)."""


class StepFailedError(Exception):
    """A step failed with a Platform error; the engine decides what happens next."""

    def __init__(self, step: Step, error: PlatformError, attempts: int) -> None:
        super().__init__(f"{step.value}: {error}")
        self.step = step
        self.error = error
        self.attempts = attempts


class ShutdownError(Exception):
    """The worker is shutting down; the request stops between two steps."""


@dataclass(frozen=True)
class StepResult:
    """One completed step, as the StepCompleted event reports it."""

    step: Step
    resource_id: str
    outcome: str
    attempts: int
    seconds: float


class Lease:
    """The fence token of a claimed request and when its lease must be renewed."""

    def __init__(
        self,
        ledger: Ledger,
        request_id: str,
        fence: int,
        seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self.fence = fence
        self._ledger = ledger
        self._request_id = request_id
        self._seconds = seconds
        self._clock = clock
        self._expires = clock() + seconds

    def keep(self) -> None:
        """Renew the lease when less than half of it is left (raises `LeaseLostError`)."""
        now = self._clock()
        if self._expires - now < self._seconds / 2:
            self._ledger.renew_lease(self._request_id, self.fence, self._seconds, now=now)
            self._expires = now + self._seconds


def done_resources(record: RequestRecord) -> dict[str, str]:
    """The resource id of every step the ledger records as done."""
    return {
        name: step.resource_id
        for name, step in record.steps.items()
        if step.state == "done" and step.resource_id is not None
    }


class Execution:
    """Executes one request's remaining steps; publishes each completion through `on_step`."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        actions: Actions,
        lease: Lease,
        on_step: Callable[[StepResult], None],
        stopping: threading.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ledger = ledger
        self._actions = actions
        self._lease = lease
        self._on_step = on_step
        self._stopping = stopping
        self._clock = clock

    def run(self, record: RequestRecord, context: RequestContext) -> dict[str, str]:
        """Run every step not yet done, in plan order; return every step's resource id."""
        context.resources.update(done_resources(record))
        context.extras.setdefault(REQUEST_CREATED_AT, record.created_at)
        request = context.request
        steps = plan(auto_mapping=request.mapping_mode == "auto")
        started: dict[str, int] = {}  # intents written with the previous completion: attempts
        while (step := next_step(steps, context.resources)) is not None:
            if self._stopping.is_set():
                raise ShutdownError(f"shutting down before {step.value}")
            self._lease.keep()
            with structlog.contextvars.bound_contextvars(step=step.value):
                state = record.step(step.value)
                result = self._run_step(step, state, context, started.pop(step.value, None))
            context.resources[step.value] = result.resource_id
            then = self._next_intent(steps, record, context)
            attempts = self._ledger.complete_step(
                request.request_id,
                self._lease.fence,
                step.value,
                result.resource_id,
                result.outcome,  # type: ignore[arg-type]  # created, found or reused
                result.attempts,
                result.seconds,
                then=then,
            )
            if then is not None and attempts is not None:
                started[then[0]] = attempts
            self._on_step(result)
        return context.resources

    def _next_intent(
        self, steps: tuple[Step, ...], record: RequestRecord, context: RequestContext
    ) -> tuple[str, str | None] | None:
        """The next step's intent, written with this completion (one ledger write, not two).

        Only for a step that starts fresh: one that reuses writes no intent, and one with an
        earlier intent looks its resource up first.
        """
        following = next_step(steps, context.resources)
        if following is None or self._stopping.is_set() or reuses(following, context.request):
            return None
        state = record.step(following.value)
        if state.name is not None or state.state != "pending":
            return None
        return following.value, self._actions.name(following, context)

    def _run_step(
        self, step: Step, state: StepRecord, context: RequestContext, started: int | None
    ) -> StepResult:
        """Run one step; ``started``: its intent is already written, with these attempts."""
        began = self._clock()
        request = context.request
        attempts = state.attempts
        if reuses(step, request):
            return self._reuse(step, state, context, began)
        try:
            name = self._actions.name(step, context)
            if started is None and (state.name is not None or state.state in ("started", "failed")):
                found = self._actions.find(step, context, name)  # an intent exists: look first
                if found is not None:
                    log.info("step_adopted", resource_id=found)
                    return StepResult(step, found, FOUND, attempts, self._clock() - began)
            attempts = started if started is not None else self._intent(step, request, name)
            with structlog.contextvars.bound_contextvars(attempt=attempts):
                resource_id, outcome = self._create(step, context, name)
            return StepResult(step, resource_id, outcome, attempts, self._clock() - began)
        except PlatformError as error:
            raise StepFailedError(step, error, max(attempts, 1)) from error

    def _reuse(
        self, step: Step, state: StepRecord, context: RequestContext, started: float
    ) -> StepResult:
        """Look up what the step reuses; nothing is created, so no intent is written first."""
        try:
            resource_id = self._actions.reuse(step, context)
        except PlatformError as error:
            attempts = self._intent(step, context.request, None)  # count the failed attempt
            raise StepFailedError(step, error, attempts) from error
        attempts = state.attempts + 1
        return StepResult(step, resource_id, REUSED, attempts, self._clock() - started)

    def _intent(self, step: Step, request: DataflowRequested, name: str | None) -> int:
        return self._ledger.record_intent(request.request_id, self._lease.fence, step.value, name)

    def _create(self, step: Step, context: RequestContext, name: str | None) -> tuple[str, str]:
        """Create; after an unknown outcome look the resource up and adopt it."""
        try:
            return self._actions.create(step, context, name), CREATED
        except OutcomeUnknownError:
            found = self._actions.find(step, context, name)
            if found is None:
                raise
            log.info("step_adopted_after_unknown_outcome", resource_id=found)
            return found, FOUND

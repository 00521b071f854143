"""What a Platform error means for the step machine: its class, and the breaker's say.

Every failure of a step's call becomes a ``Failed`` observation here: refused credentials, an
outcome that may have been applied, a retryable error (it counts towards opening the circuit) or
a rejection; with the ``Retry-After`` the Platform asked for and whether a throttled create was
applied at all.
"""

from __future__ import annotations

import structlog

from worker.core import outcomes
from worker.core.effects import Call, Failed, Failure
from worker.core.steps import Step
from worker.engine.tools import Tools
from worker.errors import AuthenticationError, OutcomeUnknownError, PlatformError

log = structlog.get_logger()


def failed(step: Step, error: PlatformError, call: Call, tools: Tools) -> Failed:
    """The observation of a step's call that failed with ``error``."""
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

"""Rollback of a failed request (`on_failure: rollback`): delete what it created, newest first.

Only resources this request created (outcome `created` or `found`) are deleted; reused ones and
the flow spec are never touched. Mapping sets cannot be deleted and stay reported in `created`.
A deletion that fails is logged and its resource stays reported; rollback never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from worker.core.steps import Step, rollback_plan
from worker.engine.execution import Actions, RequestContext
from worker.errors import NotFoundError, PlatformError

log = structlog.get_logger()


@dataclass(frozen=True)
class RollbackResult:
    """What exists after the rollback, and which steps' resources were deleted (in order)."""

    remaining: dict[str, str] = field(default_factory=dict)
    rolled_back: list[str] = field(default_factory=list)


def owned(resources: Mapping[str, str], outcomes: Mapping[str, str]) -> dict[str, str]:
    """The resources the request made itself (outcome created or found; not the flow spec)."""
    return {
        step: resource_id
        for step, resource_id in resources.items()
        if outcomes.get(step) != "reused" and step != Step.FLOW_SPEC.value
    }


def roll_back(
    actions: Actions,
    context: RequestContext,
    mine: Mapping[str, str],
    steps: tuple[Step, ...],
) -> RollbackResult:
    """Delete the request's own resources newest first; report what could not be deleted."""
    resources = dict(mine)
    rolled_back: list[str] = []
    for removal in rollback_plan(mine, steps):
        if not removal.deletable:
            continue
        try:
            actions.delete(removal.step, context, removal.resource_id)
        except NotFoundError:
            log.info("rollback_already_gone", step=removal.step.value)
        except PlatformError as error:
            log.warning("rollback_failed", step=removal.step.value, error=str(error))
            continue
        resources.pop(removal.step.value, None)
        rolled_back.append(removal.step.value)
    return RollbackResult(remaining=resources, rolled_back=rolled_back)

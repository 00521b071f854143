"""The events a request produces and the headers of a parked message: pure.

Event ids derived here are deterministic (UUID 5 of what they describe), so an event that must
be published again after a crash keeps its id and consumers can drop the duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from messages.codec import InvalidMessageError
from messages.events import DataflowCreated, DataflowFailed, FailureError, StepCompleted
from worker.errors import PlatformError

_NAMESPACE = uuid.UUID("5b8f3c2e-8f64-4f0c-9a53-2d0f1e6a7c41")


def event_source(host: str) -> str:
    """The CloudEvents `source` of everything this worker publishes."""
    return f"urn:dataflow-worker:{host}"


def derived_id(*parts: str) -> str:
    """A deterministic event id for what `parts` name."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def step_event_id(first_event_id: str, step: str, resource_id: str) -> str:
    """The id of a step's StepCompleted: the same whenever it is published again."""
    return derived_id("step", first_event_id, step, resource_id)


def error_info(kind: str, error: BaseException) -> dict[str, Any]:
    """The ledger's `last_error` for an error: kind, message, status, code."""
    return {"kind": kind, **failure_info(error)}


def failure_info(error: BaseException) -> dict[str, Any]:
    """What an error says, for the ledger and the event: message, and status and code if any."""
    if isinstance(error, PlatformError):
        return {"message": error.message, "status": error.status, "code": error.code}
    return {"message": str(error) or type(error).__name__}


def failure_error(info: Mapping[str, Any]) -> FailureError:
    """The `error` of a DataflowFailed from a ledger error dict."""
    status = info.get("status")
    return FailureError(
        kind=info["kind"],
        message=str(info.get("message") or info["kind"]),
        status=status if isinstance(status, int) and 100 <= status <= 599 else None,
        code=info.get("code"),
    )


def invalid_failed(error: InvalidMessageError) -> DataflowFailed:
    """The DataflowFailed of a message that could not be read (kind `invalid_message`)."""
    return DataflowFailed(
        request_id=error.request_id,
        step=None,
        error=FailureError(kind="invalid_message", message=str(error), fields=error.fields),
    )


def failed(
    request_id: str,
    *,
    step: str | None,
    info: Mapping[str, Any],
    attempts: int,
    created: Mapping[str, str],
    rolled_back: list[str] | None = None,
) -> DataflowFailed:
    """The DataflowFailed of a request that ended without a dataflow."""
    return DataflowFailed(
        request_id=request_id,
        step=step,
        error=failure_error(info),
        attempts=attempts,
        created=dict(created),
        rolled_back=rolled_back or [],
    )


def step_completed(
    request_id: str,
    step: str,
    resource_id: str,
    outcome: str,
    attempts: int,
    seconds: float,
    *,
    revision: int = 1,
) -> StepCompleted:
    """The StepCompleted of one finished step of the request's ``revision``."""
    return StepCompleted(
        request_id=request_id,
        step=step,
        resource_id=resource_id,
        outcome=outcome,
        attempts=attempts,
        duration_seconds=max(seconds, 0.0),
        revision=revision,
    )


def created(
    request_id: str, resources: Mapping[str, str], attempts: int, seconds: float
) -> DataflowCreated:
    """The DataflowCreated of a request whose steps are all done."""
    return DataflowCreated(
        request_id=request_id,
        flow_id=resources["dataflow"],
        source_connection_id=resources["source_connection"],
        target_connection_id=resources["target_connection"],
        schema_id=resources["target_schema"],
        dataset_id=resources["target_dataset"],
        mapping_set_id=resources["mapping_set"],
        flow_spec_id=resources["flow_spec"],
        attempts=attempts,
        duration_seconds=max(seconds, 0.0),
    )

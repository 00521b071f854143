"""Commands about a dataflow the ledger knows: its next revision, or its deletion, to publish.

A ``request_id`` names one dataflow for its whole life and ``revision`` orders what is wanted of
it (contract 2.4): ``enable``, ``disable`` and ``audit --repair`` publish the recorded request's
latest content again as the next revision (``enabled`` changed or not), ``delete`` and
``onboard --prune`` a ``DataflowDeletionRequested``. Building them reads no clock of ours and
does no I/O; each new event has a fresh id and the current time.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from messages import DataflowRequested, InvalidMessageError, new_event, validate_request
from messages.base import violations
from messages.models import DataflowDeletionRequested
from worker.core.record import RequestRecord
from worker.core.revisions import content_of
from worker.onboarding.requests import Prepared, prepared_event


def as_revision(request: DataflowRequested, revision: int, *, source: str, where: str) -> Prepared:
    """``request`` as ``revision`` in a new event (a revision's envelope is always new)."""
    revised = request.model_copy(update={"revision": revision})
    return prepared_event(new_event(revised, source=source), where)


def next_revision(record: RequestRecord, *, source: str, enabled: bool | None = None) -> Prepared:
    """The recorded request's latest content as revision ``record.revision + 1``.

    ``enabled``: the flow state to ask for (None: as the latest revision asked).
    """
    data: dict[str, Any] = {**content_of(record.request_json), "revision": record.revision + 1}
    if enabled is not None:
        data["enabled"] = enabled
    request = validate_request(data)
    return prepared_event(new_event(request, source=source), f"revision {request.revision}")


def deletion(request_id: str, reason: str | None, *, source: str) -> Prepared:
    """A ``DataflowDeletionRequested`` of ``request_id``; an id or reason the contract refuses
    raises :class:`~messages.InvalidMessageError` with every violation."""
    data = {"request_id": request_id, "reason": reason}
    try:
        command = DataflowDeletionRequested.model_validate(data)
    except ValidationError as error:
        fields = violations(DataflowDeletionRequested, data, error)
        raise InvalidMessageError("invalid DataflowDeletionRequested", fields) from None
    return prepared_event(new_event(command, source=source), "deletion")

"""Data Prep: mapping sets (`/data/foundation/conversion`); the API cannot delete them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.errors import RetryableError
from worker.platform.session import PlatformSession

API = "dataprep"
Json = dict[str, Any]


@dataclass(frozen=True)
class MappingSetRef:
    """What a flow needs to point at a mapping set."""

    id: str
    version: int


class DataPrep:
    """Typed calls to Data Prep over a shared session."""

    def __init__(self, session: PlatformSession) -> None:
        self._session = session

    def create_mapping_set(self, sandbox: str | None, body: Json) -> MappingSetRef:
        """Create a mapping set; return its id and version."""
        answer = self._session.request(
            API, "POST", "/conversion/mappingSets", sandbox=sandbox, json_body=body
        )
        return mapping_set_ref(answer)

    def get_mapping_set(self, sandbox: str | None, mapping_set_id: str) -> Json:
        """One mapping set by id."""
        answer = self._session.request(
            API,
            "GET",
            "/conversion/mappingSets/{id}",
            sandbox=sandbox,
            path={"id": mapping_set_id},
        )
        if not isinstance(answer, dict):
            raise RetryableError(f"{API}: unreadable mapping set {mapping_set_id}", api=API)
        return answer


def mapping_set_ref(answer: Any) -> MappingSetRef:
    """The id and version of a mapping set answer."""
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
        raise RetryableError(f"{API}: mapping set answer without an id", api=API)
    return MappingSetRef(id=answer["id"], version=int(answer.get("version") or 0))

"""Valid requests for tests: a small table with explicit mappings into Profile fields."""

from __future__ import annotations

from typing import Any


def sample_request(
    request_id: str, base_connection_id: str, *, name: str | None = None, **changes: Any
) -> dict[str, Any]:
    """A valid ``DataflowRequested`` data object with explicit mappings into Profile fields."""
    request: dict[str, Any] = {
        "request_id": request_id,
        "name": f"crm {request_id}" if name is None else name,
        "source": {
            "connector": "postgresql",
            "base_connection_id": base_connection_id,
            "table": f"public.{request_id.replace('-', '_').replace('.', '_')}",
            "columns": [
                {"name": "id", "type": "bigint", "xdm": {"type": "string"}},
                {"name": "email", "type": "varchar", "xdm": {"type": "string"}},
                {"name": "first_name", "type": "varchar", "xdm": {"type": "string"}},
                {
                    "name": "updated_at",
                    "type": "timestamptz",
                    "xdm": {"type": "string", "format": "date-time"},
                },
            ],
        },
        "target": {
            "schema": {
                "class": "https://ns.adobe.com/xdm/context/profile",
                "field_groups": [
                    "https://ns.adobe.com/xdm/context/profile-person-details",
                    "https://ns.adobe.com/xdm/context/profile-personal-details",
                ],
            }
        },
        "mappings": [
            {"source": "id", "destination": "_id"},
            {"source": "email", "destination": "personalEmail.address"},
            {"source": "first_name", "destination": "person.name.firstName"},
        ],
        "delta_column": {"name": "updated_at"},
        "schedule": {"frequency": "hour", "interval": 1, "start_time": 1795000000},
    }
    request.update(changes)
    return request

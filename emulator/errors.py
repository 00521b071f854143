"""The Platform's error responses, built in one place.

Two shapes exist. The API gateway answers with a flat body, ``{"error_code": "403010",
"message": "Oauth token is missing."}``. The services behind it answer RFC 7807-like:
``{"type": "https://ns.adobe.com/aep/errors/<SVC>-<code>-<status>", "title", "status",
"report": {..., "detailed-message"}, "detail"}``.

A handler raises ``ServiceError`` or ``GatewayError``; ``app.create_app`` installs the handlers
that turn them into responses. ``service_error_body`` and ``gateway_error_body`` are the pure
builders, for code that answers directly (middleware).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

FLOW = "FLOW"
XDM = "XDM"
CATALOG = "CAT"
DATAPREP = "DP"

ERROR_TYPE_BASE = "https://ns.adobe.com/aep/errors/"
PLATFORM_PREFIX = "/data/foundation/"

_SERVICES = {
    "flowservice": FLOW,
    "schemaregistry": XDM,
    "catalog": CATALOG,
    "conversion": DATAPREP,
}

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Resource not found",
    409: "Conflict",
    412: "Precondition Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def service_of(path: str) -> str:
    """The error prefix of the service a Platform path belongs to (``FLOW`` by default)."""
    name = path[len(PLATFORM_PREFIX) :].split("/", 1)[0] if path.startswith(PLATFORM_PREFIX) else ""
    return _SERVICES.get(name, FLOW)


def title_for(status: int) -> str:
    """The usual title of a status code."""
    return _TITLES.get(status, "Error")


def service_error_body(
    service: str,
    code: int | str,
    status: int,
    message: str,
    *,
    title: str | None = None,
    report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of a service error (``<SVC>-<code>-<status>``), ``message`` as its detail."""
    full_report = {"detailed-message": message, "request-id": str(uuid.uuid4())}
    if report:
        full_report.update(report)
    return {
        "type": f"{ERROR_TYPE_BASE}{service}-{code}-{status}",
        "title": title or title_for(status),
        "status": status,
        "report": full_report,
        "detail": message,
    }


def gateway_error_body(error_code: str, message: str) -> dict[str, str]:
    """The body of an API gateway error."""
    return {"error_code": error_code, "message": message}


class ServiceError(Exception):
    """Raised by a handler to answer with a service error."""

    def __init__(
        self,
        service: str,
        code: int | str,
        status: int,
        message: str,
        *,
        title: str | None = None,
        report: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers
        self.body = service_error_body(service, code, status, message, title=title, report=report)


class GatewayError(Exception):
    """Raised to answer with a gateway error; the status is the code's first three digits."""

    def __init__(self, error_code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status or int(error_code[:3])
        self.body = gateway_error_body(error_code, message)


def bad_request(service: str, code: int | str, message: str, **report: Any) -> ServiceError:
    """A 400 service error (the commonest validation failure)."""
    return ServiceError(service, code, 400, message, report=report or None)


def not_found(service: str, code: int | str, kind: str, item_id: str) -> ServiceError:
    """A 404 service error for a resource that does not exist."""
    message = (
        f"The requested {kind} resource {item_id} is not found. "
        "Verify the resource ID before trying again."
    )
    return ServiceError(service, code, 404, message, report={"id": item_id, "type": kind})


def invalid_content_type() -> ServiceError:
    """The gateway's answer to a body without ``Content-Type: application/json``."""
    error = ServiceError(FLOW, 1400, 400, "A valid content-type must be specified")
    error.body = {
        "type": "/placeholder/type/uri",
        "status": 400,
        "title": "BadRequestError",
        "detail": "A valid content-type must be specified",
    }
    return error


async def json_body(request: Request, refuse: Callable[[str], ServiceError]) -> Any:
    """The request's body read as JSON; ``refuse(message)`` is raised when it is not JSON."""
    try:
        return await request.json()
    except ValueError:
        raise refuse("The request body is not valid JSON") from None


async def handle_service_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for ``ServiceError``."""
    assert isinstance(exc, ServiceError)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (no such route or method), in the service error shape."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    message = f"{request.method} {path} is not a resource of this service."
    body = service_error_body(service_of(path), 1000, exc.status_code, message)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def handle_gateway_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for ``GatewayError``."""
    assert isinstance(exc, GatewayError)
    return JSONResponse(exc.body, status_code=exc.status)

"""Error translation: statuses, bodies and transport failures become the right `worker.errors`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from worker.errors import (
    AuthenticationError,
    InUseError,
    NotFoundError,
    OutcomeUnknownError,
    PlatformError,
    RejectedError,
    RetryableError,
    StaleEtagError,
)
from worker.platform.http import error_for_exception, error_for_response, parse_retry_after
from worker.platform.problems import parse_problem

FLOW_404 = {
    "type": "https://ns.adobe.com/aep/errors/FLOW-1439-404",
    "title": "Resource not found",
    "status": 404,
    "report": {"detailed-message": "The requested flows resource abc is not found."},
}
XDM_400 = {
    "type": "http://ns.adobe.com/aep/errors/XDM-1521-400",
    "title": "Title not unique",
    "status": 400,
    "report": {"registryRequestId": "r", "detailed-message": "An object already exists"},
    "detail": "Object titles must be unique.",
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (FLOW_404, ("FLOW-1439-404", "Resource not found", FLOW_404["report"]["detailed-message"])),  # type: ignore[index]
        (XDM_400, ("XDM-1521-400", "Title not unique", "An object already exists")),
        (
            {"error_code": "401013", "message": "Oauth token is not valid"},
            ("401013", None, "Oauth token is not valid"),
        ),
        (
            {"error_code": 429050, "message": "Too many requests"},
            ("429050", None, "Too many requests"),
        ),
        (
            {"error": "invalid_client", "error_description": "invalid client_id parameter"},
            ("invalid_client", None, "invalid client_id parameter"),
        ),
        (
            {"type": "/placeholder/type/uri", "title": "BadRequestError", "detail": "bad type"},
            ("uri", "BadRequestError", "bad type"),
        ),
        ("<html>bad gateway</html>", (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_the_problem_is_read_from_service_gateway_and_oauth_bodies(
    body: Any, expected: tuple[str | None, str | None, str | None]
) -> None:
    assert parse_problem(body) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 90.0),
        ("not a date", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    header: str | None, expected: float | None
) -> None:
    assert parse_retry_after(header, now=10.0) == expected


@pytest.mark.parametrize(
    ("status", "headers", "body", "error_class", "retry_after"),
    [
        (500, {}, {}, RetryableError, None),
        (502, {}, "bad gateway", RetryableError, None),
        (503, {"Retry-After": "2"}, {}, RetryableError, 2.0),
        (504, {}, {}, RetryableError, None),
        (408, {}, {}, RetryableError, None),
        (429, {"Retry-After": "3"}, {"error_code": "429050"}, RetryableError, 3.0),
        (429, {}, {"error_code": "429050"}, RetryableError, None),
        (401, {}, {"error_code": "401013"}, AuthenticationError, None),
        (404, {}, FLOW_404, NotFoundError, None),
        (400, {}, XDM_400, RejectedError, None),
        (403, {}, {"error_code": "403003", "message": "Api Key is invalid"}, RejectedError, None),
        (412, {}, {}, StaleEtagError, None),
    ],
)
def test_each_status_maps_to_its_error_class(
    status: int,
    headers: dict[str, str],
    body: Any,
    error_class: type[PlatformError],
    retry_after: float | None,
) -> None:
    kwargs: dict[str, Any] = {"json": body} if isinstance(body, dict) else {"text": body}
    response = httpx.Response(status, headers=headers, **kwargs)
    error = error_for_response("flowservice", "GET", "/flowservice/flows/{id}", response)
    assert type(error) is error_class
    assert error.status == status
    assert error.api == "flowservice"
    assert getattr(error, "retry_after_seconds", None) == retry_after


@pytest.mark.parametrize(
    ("status", "method", "error_class"),
    [
        (502, "POST", OutcomeUnknownError),
        (504, "POST", OutcomeUnknownError),
        (504, "PATCH", OutcomeUnknownError),
        (504, "GET", RetryableError),
        (502, "DELETE", RetryableError),
        (503, "POST", RetryableError),
        (500, "POST", RetryableError),
    ],
)
def test_a_gateway_that_lost_the_answer_to_a_create_leaves_the_outcome_unknown(
    status: int, method: str, error_class: type[PlatformError]
) -> None:
    response = httpx.Response(status, json={})
    error = error_for_response("flowservice", method, "/flowservice/flows", response)
    assert type(error) is error_class


def refusal(code: str, message: str = "Base connection b is used by flow f") -> dict[str, Any]:
    """A service error body with the type ``.../<code>``."""
    return {"type": f"https://ns.adobe.com/aep/errors/{code}", "title": "t", "detail": message}


@pytest.mark.parametrize(
    ("method", "status", "body", "error_class"),
    [
        ("DELETE", 400, refusal("FLOW-1418-400"), InUseError),
        ("DELETE", 400, refusal("XDM-1304-400"), InUseError),
        ("DELETE", 400, refusal("FLOW-1400-400", "it is in use by a flow"), RejectedError),
        ("DELETE", 400, {"message": "still in use by a flow"}, RejectedError),
        ("GET", 400, refusal("FLOW-1418-400"), RejectedError),
        ("DELETE", 404, refusal("FLOW-1439-404"), NotFoundError),
        ("DELETE", 404, refusal("CAT-1004-404"), NotFoundError),
        (
            "PATCH",
            412,
            refusal("FLOW-1404-412", "Supplied version=[x] does not match"),
            StaleEtagError,
        ),
        ("POST", 412, refusal("FLOW-1404-412"), StaleEtagError),
    ],
)
def test_a_refused_delete_is_in_use_by_its_code_and_a_stale_etag_by_its_status(
    method: str, status: int, body: dict[str, Any], error_class: type[PlatformError]
) -> None:
    response = httpx.Response(status, json=body)
    error = error_for_response("flowservice", method, "/flowservice/flows/{id}", response)
    assert type(error) is error_class
    assert error.retryable is False


def test_a_stale_etag_is_a_platform_error_of_its_own_not_a_rejection() -> None:
    error = error_for_response(
        "flowservice", "PATCH", "/flowservice/flows/{id}", httpx.Response(412)
    )
    assert isinstance(error, PlatformError)
    assert not isinstance(error, RejectedError | RetryableError)


def test_a_rejection_carries_the_platform_code_title_and_detail() -> None:
    response = httpx.Response(400, json=XDM_400)
    error = error_for_response("schemaregistry", "POST", "/schemaregistry/tenant/schemas", response)
    assert (error.code, error.title, error.detail) == (
        "XDM-1521-400",
        "Title not unique",
        "An object already exists",
    )
    assert "XDM-1521-400" in str(error)


REQUEST = httpx.Request("POST", "https://platform.example/x")


@pytest.mark.parametrize(
    ("error", "method", "error_class"),
    [
        (httpx.ConnectError("refused", request=REQUEST), "POST", RetryableError),
        (httpx.ConnectTimeout("slow", request=REQUEST), "POST", RetryableError),
        (httpx.PoolTimeout("busy", request=REQUEST), "POST", RetryableError),
        (httpx.ReadTimeout("slow", request=REQUEST), "POST", OutcomeUnknownError),
        (httpx.ReadTimeout("slow", request=REQUEST), "PATCH", OutcomeUnknownError),
        (httpx.ReadTimeout("slow", request=REQUEST), "GET", RetryableError),
        (httpx.ReadTimeout("slow", request=REQUEST), "DELETE", RetryableError),
        (httpx.RemoteProtocolError("dropped", request=REQUEST), "POST", OutcomeUnknownError),
        (httpx.RemoteProtocolError("dropped", request=REQUEST), "GET", RetryableError),
        (httpx.ReadError("reset", request=REQUEST), "POST", OutcomeUnknownError),
        (httpx.WriteTimeout("slow", request=REQUEST), "POST", OutcomeUnknownError),
    ],
)
def test_a_transport_failure_is_outcome_unknown_only_when_a_create_may_have_landed(
    error: httpx.HTTPError, method: str, error_class: type[PlatformError]
) -> None:
    translated = error_for_exception("catalog", method, "/catalog/dataSets", error)
    assert type(translated) is error_class
    assert translated.retryable


def test_a_token_request_is_never_outcome_unknown() -> None:
    error = httpx.ReadTimeout("slow", request=REQUEST)
    translated = error_for_exception("ims", "POST", "/ims/token/v3", error, idempotent=True)
    assert type(translated) is RetryableError

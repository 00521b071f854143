"""The Platform's own explanation is read from each of its error body shapes, bounded, redacted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from worker.platform.http import error_for_response
from worker.platform.problems import EXPLANATION_LIMIT, bounded, explanation

BASE = "6990abad-6b2f-4a4c-8f56-7c0bd1a0d8e1"
FLOW_400 = {
    "type": "https://ns.adobe.com/aep/errors/FLOW-1400-400",
    "title": "Bad Request",
    "status": 400,
    "report": {
        "detailed-message": f"Base connection {BASE} is not found. Verify the base connection ID.",
        "request-id": "r-1",
    },
    "detail": f"Base connection {BASE} is not found. Verify the base connection ID.",
}
XDM_400 = {
    "type": "http://ns.adobe.com/aep/errors/XDM-1010-400",
    "title": "Bad Request",
    "status": 400,
    "report": {
        "registryRequestId": "r-2",
        "timestamp": "12-06-2026 10:00:00",
        "detailed-message": "The schema refers to unknown field groups.",
        "sub-errors": [
            {"title": "Not found", "detail": "https://ns.adobe.com/xdm/context/nope is unknown"},
            {"report": {"detailed-message": "https://ns.adobe.com/xdm/context/also is unknown"}},
        ],
    },
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(FLOW_400, FLOW_400["detail"], id="flow-service"),
        pytest.param(
            XDM_400,
            "The schema refers to unknown field groups.; "
            "https://ns.adobe.com/xdm/context/nope is unknown; "
            "https://ns.adobe.com/xdm/context/also is unknown",
            id="schema-registry-with-sub-errors",
        ),
        pytest.param(
            {"type": "/placeholder/type/uri", "title": "BadRequestError", "detail": "bad type"},
            "bad type",
            id="placeholder-type",
        ),
        pytest.param(
            {"errorMessage": "Supplied version=[1] does not match", "errorDetails": "etag stale"},
            "Supplied version=[1] does not match; etag stale",
            id="flow-service-error-message",
        ),
        pytest.param(
            {"errors": [{"code": "err-1", "description": "This resource is read-only."}]},
            "This resource is read-only.",
            id="catalog-errors",
        ),
        pytest.param(
            {"report": {"message": "Dataset name is required"}, "title": "Bad Request"},
            "Dataset name is required",
            id="catalog-report-message",
        ),
        pytest.param(
            {"error_code": "403003", "message": "Api Key is invalid"},
            "Api Key is invalid",
            id="gateway",
        ),
        pytest.param(
            {"error": "invalid_client", "error_description": "invalid client_secret parameter"},
            "invalid client_secret parameter",
            id="ims",
        ),
        pytest.param({"title": "Bad Request"}, None, id="title-only"),
        pytest.param("<html>bad gateway</html>", None, id="not-json"),
    ],
)
def test_the_explanation_is_read_from_every_error_body_shape(
    body: Any, expected: str | None
) -> None:
    assert explanation(body) == expected


def test_a_long_explanation_is_cut_on_one_line() -> None:
    text = explanation({"detail": "first line\n\tsecond line " + "x" * 2000})
    assert text is not None
    assert len(text) == EXPLANATION_LIMIT
    assert text.startswith("first line second line x")
    assert text.endswith("…")
    assert bounded("short") == "short"


@pytest.mark.parametrize(
    "secret",
    [
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "client_secret=hunter2hunter2",
        "postgresql://reader:s3cr3t@db:5432/crm",
    ],
)
def test_credentials_in_an_explanation_are_masked(secret: str) -> None:
    text = explanation({"detail": f"the request with {secret} was refused"})
    assert text is not None
    assert "***" in text
    for part in ("eyJzdWIiOiIxIn0", "hunter2hunter2", "s3cr3t"):
        assert part not in text


def test_the_error_message_carries_the_platforms_explanation() -> None:
    response = httpx.Response(400, json=FLOW_400)
    error = error_for_response("flowservice", "POST", "/flowservice/sourceConnections", response)
    assert str(error) == (
        "flowservice POST /flowservice/sourceConnections answered 400 FLOW-1400-400 Bad Request: "
        f"Base connection {BASE} is not found. Verify the base connection ID."
    )
    assert error.detail == FLOW_400["detail"]


def test_a_message_without_an_explanation_is_unchanged() -> None:
    response = httpx.Response(404, json={"title": "Resource not found"})
    error = error_for_response("catalog", "GET", "/catalog/dataSets/{id}", response)
    assert str(error) == "catalog GET /catalog/dataSets/{id} answered 404 Resource not found"

"""What the Platform said when it refused: code, title and its own explanation. Pure.

The Platform's APIs answer errors in several shapes; each one is read here:

====================================  =====================================================
who                                   body
====================================  =====================================================
Flow Service, Schema Registry, ...    ``{"type": ".../FLOW-1439-404", "title", "status",
                                      "report": {"detailed-message", "sub-errors": [...]},
                                      "detail"}`` (RFC 7807-like; the registry's ``errorBasic``)
Flow Service (older)                  ``{"errorMessage", "errorDetails"}``
Catalog                               ``{"message"}``, ``{"report": {"message"}}`` or
                                      ``{"errors": [{"code", "description"}]}``
API gateway                           ``{"error_code": "401013", "message"}``
IMS (OAuth)                           ``{"error": "invalid_client", "error_description"}``
====================================  =====================================================

The explanation is bounded (`EXPLANATION_LIMIT` characters, on one line) and redacted with the
log redaction rules, since it goes into error messages, events, the ledger and reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from worker.observability.logs import Redactor

EXPLANATION_LIMIT = 400
_SUB_ERRORS = 3
_SPACES = re.compile(r"\s+")
_REDACTOR = Redactor()  # patterns only: no secret values are known here


def parse_problem(body: Any) -> tuple[str | None, str | None, str | None]:
    """The Platform's (code, title, explanation) from any of its error bodies."""
    if not isinstance(body, Mapping):
        return None, None, None
    code = title = None
    if isinstance(body.get("type"), str) and "/" in body["type"]:
        code = body["type"].rstrip("/").rsplit("/", 1)[-1] or None
    if body.get("error_code") is not None:
        code = str(body["error_code"])
    if isinstance(body.get("error"), str):
        code = body["error"]
    if isinstance(body.get("title"), str):
        title = body["title"]
    detail = explanation(body)
    if title is None and isinstance(body.get("message"), str) and detail != body["message"]:
        title = body["message"]
    return code, title, detail


def explanation(body: Any) -> str | None:
    """The Platform's own words on why it refused: bounded, on one line, redacted; or None."""
    if not isinstance(body, Mapping):
        return None
    parts: list[str] = []
    for text in _texts(body):
        if not any(text in seen for seen in parts):
            parts.append(text)
    if not parts:
        return None
    return bounded(redact("; ".join(parts)))


def redact(text: str) -> str:
    """``text`` with what looks like a credential masked (the log redaction patterns)."""
    return _REDACTOR.scrub_text(text)


def _texts(body: Mapping[str, Any]) -> Iterator[str]:
    """The explanation's pieces, the most specific first: the main one, then sub-errors."""
    main = _first_text(_report(body), "detailed-message", "message") or _first_text(
        body, "detail", "message", "errorMessage", "error_description", "description"
    )
    if main:
        yield main
    details = body.get("errorDetails")
    if isinstance(details, str) and details.strip():
        yield details.strip()
    for sub in _sub_errors(body)[:_SUB_ERRORS]:
        text = explanation(sub)
        if text:
            yield text


def _report(body: Mapping[str, Any]) -> Mapping[str, Any]:
    report = body.get("report")
    return report if isinstance(report, Mapping) else {}


def _first_text(where: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = where.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _sub_errors(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Nested errors: the registry's ``report.sub-errors``, Catalog's ``errors``."""
    found: list[Mapping[str, Any]] = []
    for candidate in (_report(body).get("sub-errors"), body.get("errors")):
        if isinstance(candidate, list):
            found += [item for item in candidate if isinstance(item, Mapping)]
    return found


def bounded(text: str, limit: int = EXPLANATION_LIMIT) -> str:
    """``text`` on one line, cut to ``limit`` characters (an ellipsis marks the cut)."""
    line = _SPACES.sub(" ", text).strip()
    if len(line) <= limit:
        return line
    return line[: limit - 1].rstrip() + "…"

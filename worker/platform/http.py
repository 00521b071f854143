"""The one place where httpx errors and HTTP statuses become `worker.errors`.

:class:`Transport` sends one request, logs it (event ``platform_request``, never a header or a
body), counts it, and translates transport failures. :func:`error_for_response` turns an
unsuccessful response into the error tree:

========================================  ===============================================
what happened                             error
========================================  ===============================================
connect error / connect or pool timeout   RetryableError (nothing was sent)
read timeout, dropped connection          OutcomeUnknownError for POST/PATCH, else Retryable
502, 504 on POST/PATCH                    OutcomeUnknownError (the gateway lost the answer)
408, 429, other 5xx                       RetryableError (``retry_after_seconds`` if given)
401                                       AuthenticationError (after the session's one renewal)
404                                       NotFoundError
other 4xx                                 RejectedError with the Platform's code/title/detail
========================================  ===============================================
"""

from __future__ import annotations

import email.utils
import json
import ssl
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
import structlog

from worker.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    OutcomeUnknownError,
    PlatformError,
    RejectedError,
    RetryableError,
)

# Methods whose effect is not safe to repeat blindly: a lost answer leaves the outcome unknown.
NON_IDEMPOTENT = frozenset({"POST", "PATCH"})
RETRYABLE_STATUSES = frozenset({408, 429})
# A gateway that lost the backend's answer: a create behind it may have been applied.
LOST_ANSWER_STATUSES = frozenset({502, 504})

log = structlog.get_logger()


class PlatformMetrics(Protocol):
    """What the client needs from `worker.metrics.Metrics`: one observation per HTTP call."""

    def observe_platform_call(
        self,
        api: str,
        method: str,
        seconds: float,
        *,
        status: int | None = None,
        timeout: bool = False,
    ) -> None:
        """Count one call under its status class (or timeout/error) and time it."""


def build_http_client(
    *, timeout_seconds: float, pool_size: int, ca_bundle: str | None = None
) -> httpx.Client:
    """One client per process: TLS always verified, proxy variables honoured.

    At most ``pool_size`` requests in flight (the worker's concurrency). Without a proxy, each
    calling thread keeps up to two keep-alive connections of its own (see :class:`ThreadPools`);
    with one, httpx's own pool of ``pool_size`` connections goes through it.
    """
    try:
        context = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as error:
        raise ConfigurationError(f"DATAFLOW_CA_BUNDLE: cannot load {ca_bundle}: {error}") from None
    timeout = httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0))
    return httpx.Client(
        verify=context,
        trust_env=True,  # HTTPS_PROXY / HTTP_PROXY / NO_PROXY
        timeout=timeout,
        limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
        # A transport of our own makes httpx skip the proxy variables: only when there are none.
        transport=None
        if urllib.request.getproxies()
        else ThreadPools(context, pool_size, pool_timeout=timeout_seconds),
        follow_redirects=False,
    )


class ThreadPools(httpx.BaseTransport):
    """A small connection pool per calling thread, and a cap on requests in flight.

    A thread sends one request at a time, so its own pool of a connection or two serves it;
    one pool shared by many threads would scan every connection (a syscall each) on every
    request and response, under one lock.
    """

    PER_THREAD = 2

    def __init__(self, context: ssl.SSLContext, in_flight: int, *, pool_timeout: float) -> None:
        """Pools verify TLS with ``context``; at most ``in_flight`` requests at once."""
        self._context = context
        self._slots = threading.BoundedSemaphore(in_flight)
        self._pool_timeout = pool_timeout
        self._local = threading.local()
        self._pools: list[httpx.HTTPTransport] = []
        self._lock = threading.Lock()

    def _pool(self) -> httpx.HTTPTransport:
        pool: httpx.HTTPTransport | None = getattr(self._local, "pool", None)
        if pool is None:
            limits = httpx.Limits(
                max_connections=self.PER_THREAD, max_keepalive_connections=self.PER_THREAD
            )
            pool = httpx.HTTPTransport(verify=self._context, limits=limits)
            with self._lock:
                self._pools.append(pool)
            self._local.pool = pool
        return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send through the calling thread's pool once a slot is free (until the answer starts)."""
        if not self._slots.acquire(timeout=self._pool_timeout):
            raise httpx.PoolTimeout("every request slot is busy", request=request)
        try:
            return self._pool().handle_request(request)
        finally:
            self._slots.release()

    def close(self) -> None:
        """Close every thread's pool."""
        with self._lock:
            pools, self._pools = self._pools, []
        for pool in pools:
            pool.close()


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def parse_problem(body: Any) -> tuple[str | None, str | None, str | None]:
    """The Platform's (code, title, detail) from a service, gateway or OAuth error body."""
    if not isinstance(body, Mapping):
        return None, None, None
    code = title = detail = None
    if isinstance(body.get("type"), str) and "/" in body["type"]:
        code = body["type"].rstrip("/").rsplit("/", 1)[-1] or None
    if body.get("error_code") is not None:
        code = str(body["error_code"])
    if isinstance(body.get("error"), str):
        code = body["error"]
    if isinstance(body.get("title"), str):
        title = body["title"]
    report = body.get("report")
    for candidate in (
        report.get("detailed-message") if isinstance(report, Mapping) else None,
        body.get("detail"),
        body.get("message"),
        body.get("error_description"),
        body.get("errorMessage"),
    ):
        if isinstance(candidate, str) and candidate:
            detail = candidate
            break
    if title is None and isinstance(body.get("message"), str) and detail != body["message"]:
        title = body["message"]
    return code, title, detail


def response_body(response: httpx.Response) -> Any:
    """The JSON body of a response, or its text when it is not JSON (never raises)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return response.text[:500]


def error_for_response(
    api: str,
    method: str,
    template: str,
    response: httpx.Response,
    *,
    idempotent: bool | None = None,
) -> PlatformError:
    """The error an unsuccessful response stands for (``idempotent``: see error_for_exception)."""
    status = response.status_code
    code, title, detail = parse_problem(response_body(response))
    message = f"{api} {method} {template} answered {status}"
    if code or title:
        message += f" {code or ''} {title or ''}".rstrip()
    fields: dict[str, Any] = {
        "status": status,
        "code": code,
        "title": title,
        "detail": detail,
        "api": api,
    }
    if status in RETRYABLE_STATUSES or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if idempotent is None:
            idempotent = method not in NON_IDEMPOTENT
        if status in LOST_ANSWER_STATUSES and not idempotent:
            return OutcomeUnknownError(message, retry_after_seconds=retry_after, **fields)
        return RetryableError(message, retry_after_seconds=retry_after, **fields)
    if status == 401:
        return AuthenticationError(message, **fields)
    if status == 404:
        return NotFoundError(message, **fields)
    return RejectedError(message, **fields)


def error_for_exception(
    api: str, method: str, template: str, error: httpx.HTTPError, *, idempotent: bool | None = None
) -> PlatformError:
    """The error a transport failure stands for, by whether the request may have landed."""
    message = f"{api} {method} {template} failed: {type(error).__name__}"
    if idempotent is None:
        idempotent = method not in NON_IDEMPOTENT
    if isinstance(error, _NOT_SENT) or idempotent:
        return RetryableError(message, api=api)
    return OutcomeUnknownError(message, api=api)


# Failures that happen before any byte of the request reaches the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class Transport:
    """Sends requests through the shared pool, logging, counting and translating each one."""

    def __init__(self, client: httpx.Client, metrics: PlatformMetrics | None = None) -> None:
        self._client = client
        self._metrics = metrics

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def send(
        self,
        api: str,
        method: str,
        url: str,
        template: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one request; raise only `PlatformError` for transport failures.

        ``idempotent`` overrides the method's default (a token request may be repeated safely).
        """
        started = time.perf_counter()
        content = None
        all_headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body, ensure_ascii=False).encode()
            all_headers.setdefault("Content-Type", "application/json")
        try:
            response = self._client.request(
                method, url, headers=all_headers, params=params, content=content, data=form
            )
        except httpx.HTTPError as error:
            duration = time.perf_counter() - started
            label = "timeout" if isinstance(error, httpx.TimeoutException) else "error"
            self._record(api, method, template, label, duration, error=type(error).__name__)
            raise error_for_exception(api, method, template, error, idempotent=idempotent) from None
        duration = time.perf_counter() - started
        self._record(api, method, template, response.status_code, duration)
        return response

    def _record(
        self,
        api: str,
        method: str,
        template: str,
        status: int | str,
        duration: float,
        error: str | None = None,
    ) -> None:
        # Answered calls are counted in the metrics; their lines are for debugging. Failures show.
        emit = log.debug if isinstance(status, int) and status < 400 else log.info
        emit(
            "platform_request",
            api=api,
            method=method,
            path=template,
            status=status,
            duration_seconds=round(duration, 6),
            **({"error": error} if error else {}),
        )
        if self._metrics is not None:
            self._metrics.observe_platform_call(
                api,
                method,
                duration,
                status=status if isinstance(status, int) else None,
                timeout=status == "timeout",
            )

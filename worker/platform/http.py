"""The one place where httpx errors and HTTP statuses become `worker.errors`.

:class:`Transport` sends one request, logs it (event ``platform_request``, never a header or a
body), counts it, and translates transport failures. :func:`error_for_response` turns an
unsuccessful response into the error tree:

========================================  ===============================================
what happened                             error
========================================  ===============================================
connect error / connect or pool timeout   RetryableError (nothing was sent), naming the origin
read timeout, dropped connection          OutcomeUnknownError for POST/PATCH, else Retryable
502, 504 on POST/PATCH                    OutcomeUnknownError (the gateway lost the answer)
408, 429, other 5xx                       RetryableError (``retry_after_seconds`` if given)
401                                       AuthenticationError (after the session's one renewal)
404                                       NotFoundError
412                                       StaleEtagError (``If-Match`` no longer matches)
a DELETE refused with an in-use code      InUseError (``IN_USE_CODES``: never from the text)
other 4xx                                 RejectedError with the Platform's code/title/detail
========================================  ===============================================

Every error's message carries the Platform's own explanation where it gave one (bounded and
redacted: `worker.platform.problems`).
"""

from __future__ import annotations

import email.utils
import json
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
import structlog

from worker.errors import (
    AuthenticationError,
    ConfigurationError,
    InUseError,
    NotFoundError,
    OutcomeUnknownError,
    PlatformError,
    RejectedError,
    RetryableError,
    StaleEtagError,
)
from worker.platform.gate import Gate
from worker.platform.problems import bounded, parse_problem, redact
from worker.platform.reply import Reply, response_body
from worker.platform.wire import LeanTransport, Proxies

# Methods whose effect is not safe to repeat blindly: a lost answer leaves the outcome unknown.
NON_IDEMPOTENT = frozenset({"POST", "PATCH"})
RETRYABLE_STATUSES = frozenset({408, 429})
# A gateway that lost the backend's answer: a create behind it may have been applied.
LOST_ANSWER_STATUSES = frozenset({502, 504})
# The codes of a DELETE refused because another resource still uses the target. Flow Service
# documents 1418 for a base connection a flow uses (the emulator answers it for source and
# target connections too); the Schema Registry documents none, and XDM-1304 is the emulator's
# (docs/emulator.md). Catalog refuses nothing: it does not know which flows use a dataset.
IN_USE_CODES = frozenset({"FLOW-1418-400", "XDM-1304-400"})

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


def build_http_transport(
    *,
    pool_size: int,
    ca_bundle: str | None = None,
    proxies: Mapping[str, str] | None = None,
) -> httpx.AsyncBaseTransport:
    """One transport per process and event loop: our own (docs/adr/0009).

    TLS is always verified (the system's trust store, or ``ca_bundle``). At most ``pool_size``
    requests are in flight; one more waits for a slot up to the pool timeout. ``proxies`` are the
    proxy variables shaped like ``urllib.request.getproxies_environment()``, read from the
    environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``) when not given.
    """
    try:
        context = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as error:
        raise ConfigurationError(f"DATAFLOW_CA_BUNDLE: cannot load {ca_bundle}: {error}") from None
    if proxies is None:
        proxies = urllib.request.getproxies_environment()
    routes = Proxies.from_environment(proxies)
    return LeanTransport(context, max_in_flight=pool_size, proxies=routes)


def http_timeout(seconds: float) -> httpx.Timeout:
    """The timeouts of every Platform and IMS request (a connect takes at most 10 s)."""
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def build_http_client(
    *,
    timeout_seconds: float,
    pool_size: int,
    ca_bundle: str | None = None,
    proxies: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on our transport (for tools and tests that want httpx's API)."""
    return httpx.AsyncClient(
        transport=build_http_transport(pool_size=pool_size, ca_bundle=ca_bundle, proxies=proxies),
        timeout=http_timeout(timeout_seconds),
        trust_env=False,  # the proxy variables are the transport's; no .netrc, no SSL_CERT_FILE
        follow_redirects=False,
    )


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


def error_for_response(
    api: str,
    method: str,
    template: str,
    response: Reply | httpx.Response,
    *,
    idempotent: bool | None = None,
) -> PlatformError:
    """The error an unsuccessful response stands for (``idempotent``: see error_for_exception)."""
    status = response.status_code
    code, title, detail = parse_problem(response_body(response))
    message = f"{api} {method} {template} answered {status}"
    if code or title:
        message += " " + " ".join(part for part in (code, title) if part)
    if detail and detail != title:
        message += f": {detail}"
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
    if status == 412:
        return StaleEtagError(message, **fields)
    if method == "DELETE" and code in IN_USE_CODES:
        return InUseError(message, **fields)
    return RejectedError(message, **fields)


def error_for_exception(
    api: str,
    method: str,
    template: str,
    error: httpx.HTTPError,
    *,
    idempotent: bool | None = None,
    url: str | None = None,
) -> PlatformError:
    """The error a transport failure stands for, by whether the request may have landed.

    The message names the origin tried (scheme, host and port: never a path or a query), from
    ``url`` or else the error's request.
    """
    message = f"{api} {method} {template} failed"
    origin = _origin_of(httpx.URL(url)) if url is not None else _origin(error)
    if origin:
        message += f" at {origin}"
    message += f": {type(error).__name__}"
    if str(error):
        message += f" ({bounded(redact(str(error)), 200)})"
    if idempotent is None:
        idempotent = method not in NON_IDEMPOTENT
    if isinstance(error, _NOT_SENT) or idempotent:
        return RetryableError(message, api=api)
    return OutcomeUnknownError(message, api=api)


def _origin(error: httpx.HTTPError) -> str | None:
    try:
        url = error.request.url
    except RuntimeError:  # raised without a request
        return None
    return _origin_of(url)


def _origin_of(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


# Failures that happen before any byte of the request reaches the server.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,  # the proxy refused to open the tunnel
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,  # refused before sending (a header holding a line break)
)


_URL_CACHE = 256
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})  # sent with a Content-Length even when empty


class Transport:
    """Sends requests through the shared pool, logging, counting and translating each one.

    Platform calls first wait for a slot of the adaptive limit (`worker.platform.gate`, given
    by the client) and report their answer to it; IMS token calls do not.

    Requests go straight to the httpx transport: the Platform needs none of what
    ``httpx.AsyncClient`` adds around it (redirects, cookies, auth flows, event hooks), and
    skipping it saves a third of the CPU of a call.
    """

    def __init__(
        self,
        http: httpx.AsyncBaseTransport,
        timeout: httpx.Timeout,
        metrics: PlatformMetrics | None = None,
        gate: Gate | None = None,
    ) -> None:
        self._http = http
        self._gate = gate
        self._extensions: dict[str, Any] = {"timeout": timeout.as_dict()}
        self._metrics = metrics
        self._urls: dict[str, httpx.URL] = {}  # parsed once: collection paths repeat

    async def aclose(self) -> None:
        """Close the connection pool (calls waiting at the gate give up, unsent)."""
        if self._gate is not None:
            self._gate.close()
        await self._http.aclose()

    async def send(
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
        gated: bool = True,
    ) -> Reply:
        """Send one request; raise only `PlatformError` for transport failures.

        ``idempotent`` overrides the method's default (a token request may be repeated safely).
        ``gated``: the call waits for a slot of the adaptive limit (`worker.platform.gate`);
        IMS token calls are not gated (they do not count against the Platform's limit).
        """
        gate = self._gate if gated else None
        sent_at = await gate.enter() if gate is not None else 0.0
        started = time.perf_counter()
        status: int | None = None
        retry_after: float | None = None
        try:
            reply = await self._exchange(method, url, headers, params, json_body, form)
        except httpx.HTTPError as error:
            duration = time.perf_counter() - started
            label = "timeout" if isinstance(error, httpx.TimeoutException) else "error"
            self._record(api, method, template, label, duration, error=type(error).__name__)
            raise error_for_exception(
                api, method, template, error, idempotent=idempotent, url=url
            ) from None
        else:
            status = reply.status_code
            if status == 429:
                retry_after = parse_retry_after(reply.headers.get("retry-after"))
        finally:
            if gate is not None:
                gate.leave(sent_at, time.perf_counter() - started, status, retry_after)
        self._record(api, method, template, reply.status_code, time.perf_counter() - started)
        return reply

    async def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str | int] | None,
        json_body: Any,
        form: Mapping[str, str] | None,
    ) -> Reply:
        target = self._url(url)
        if params:
            target = target.copy_merge_params(params)
        names = {name.lower() for name in headers or ()}
        pairs = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in (headers or {}).items()
        ]
        body = b""
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            if "content-type" not in names:
                pairs.append((b"Content-Type", b"application/json"))
        elif form is not None:
            body = urllib.parse.urlencode(form).encode("ascii")
            pairs.append((b"Content-Type", b"application/x-www-form-urlencoded"))
        if not isinstance(self._http, LeanTransport):  # a test's transport: through httpx
            request = httpx.Request(
                method, target, headers=pairs, content=body or None, extensions=self._extensions
            )
            response = await self._http.handle_async_request(request)
            content = await response.aread()
            return Reply.of(response.status_code, response.headers.raw, content)
        pairs.insert(0, (b"Host", target.netloc))
        if body or method in _WITH_BODY:
            pairs.append((b"Content-Length", str(len(body)).encode("ascii")))
        answer = await self._http.exchange(
            method.encode("ascii"), target, pairs, body, self._extensions["timeout"]
        )
        return Reply.of(answer.status, answer.headers, answer.body)

    def _url(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _URL_CACHE:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

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

"""Fault injection (contract section 7): latency, error rates, throttling, rate limits, drops.

``parse_faults`` validates a settings document; ``decide`` is the pure, seeded draw made for
each request; ``Faults`` holds the live settings, the random generator and the per-org token
buckets; ``FaultsMiddleware`` applies a decision around the services.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.errors import gateway_error_body, service_error_body, service_of
from emulator.gateway import send_json

CONTROL_PREFIX = "/__emulator/"
IMS_PREFIX = "/ims/"
_KEYS = frozenset(
    {
        "seed",
        "latency_ms",
        "errors",
        "throttle",
        "rate_limit_rps",
        "commit_then_drop",
        "run_failure_rate",
        "paths",
    }
)
_ERROR_CODES = {503: 1103, 504: 1104}


class FaultSettingsError(ValueError):
    """A fault settings document that cannot be applied."""


@dataclass(frozen=True)
class FaultSettings:
    """Validated fault settings; ``raw`` is the document as given (what ``GET`` returns)."""

    raw: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    latency_s: tuple[float, float] = (0.0, 0.0)
    errors: tuple[tuple[int, float], ...] = ()
    throttle_rate: float = 0.0
    retry_after_s: float | None = 1.0
    rate_limit_rps: float | None = None
    commit_then_drop: float = 0.0
    run_failure_rate: float = 0.0
    paths: re.Pattern[str] | None = None

    @property
    def active(self) -> bool:
        """Whether any request-level fault is set."""
        return bool(
            self.latency_s[1] > 0
            or self.errors
            or self.throttle_rate
            or self.rate_limit_rps
            or self.commit_then_drop
        )

    def applies_to(self, path: str) -> bool:
        """Whether faults apply to ``path`` (never the control surface; IMS only when named)."""
        if path.startswith(CONTROL_PREFIX):
            return False
        if self.paths is None:
            return not path.startswith(IMS_PREFIX)
        return self.paths.search(path) is not None


def _probability(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultSettingsError(f"{name} must be a probability between 0 and 1, got {value!r}")
    return float(value)


def _non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultSettingsError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def _latency(value: Any) -> tuple[float, float]:
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise FaultSettingsError("latency_ms as a list must be [min, max]")
        low, high = (_non_negative(v, "latency_ms") / 1000 for v in value)
        if low > high:
            raise FaultSettingsError("latency_ms [min, max] needs min <= max")
        return low, high
    single = _non_negative(value, "latency_ms") / 1000
    return single, single


def _errors(value: Any) -> tuple[tuple[int, float], ...]:
    if not isinstance(value, dict):
        raise FaultSettingsError("errors must be an object of status -> probability")
    parsed: list[tuple[int, float]] = []
    for status, rate in value.items():
        if not str(status).isdigit() or not 400 <= int(status) <= 599:
            raise FaultSettingsError(f"errors: {status!r} is not a 4xx or 5xx status")
        parsed.append((int(status), _probability(rate, f"errors[{status}]")))
    if sum(rate for _, rate in parsed) > 1:
        raise FaultSettingsError("errors: the probabilities add up to more than 1")
    return tuple(parsed)


def parse_faults(raw: dict[str, Any]) -> FaultSettings:
    """Validate a fault settings document (every key optional; ``{}`` means no faults)."""
    if not isinstance(raw, dict):
        raise FaultSettingsError("fault settings must be a JSON object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise FaultSettingsError(f"unknown fault settings: {', '.join(unknown)}")
    values: dict[str, Any] = {"raw": dict(raw)}
    if raw.get("seed") is not None:
        if isinstance(raw["seed"], bool) or not isinstance(raw["seed"], int):
            raise FaultSettingsError("seed must be an integer")
        values["seed"] = raw["seed"]
    if raw.get("latency_ms") is not None:
        values["latency_s"] = _latency(raw["latency_ms"])
    if raw.get("errors"):
        values["errors"] = _errors(raw["errors"])
    throttle = raw.get("throttle")
    if throttle is not None:
        if not isinstance(throttle, dict):
            raise FaultSettingsError("throttle must be {rate, retry_after_s}")
        values["throttle_rate"] = _probability(throttle.get("rate", 0), "throttle.rate")
        retry_after = throttle.get("retry_after_s", 1)
        values["retry_after_s"] = (
            None if retry_after is None else _non_negative(retry_after, "throttle.retry_after_s")
        )
    if raw.get("rate_limit_rps") is not None:
        rps = _non_negative(raw["rate_limit_rps"], "rate_limit_rps")
        if rps <= 0:
            raise FaultSettingsError("rate_limit_rps must be positive")
        values["rate_limit_rps"] = rps
    for key in ("commit_then_drop", "run_failure_rate"):
        if raw.get(key) is not None:
            values[key] = _probability(raw[key], key)
    if raw.get("paths") is not None:
        try:
            values["paths"] = re.compile(str(raw["paths"]))
        except re.error as error:
            raise FaultSettingsError(f"paths is not a valid regex: {error}") from None
    return FaultSettings(**values)


@dataclass(frozen=True)
class Decision:
    """What the faults do to one request."""

    latency_s: float = 0.0
    status: int | None = None  # answer with this status instead of serving the request
    retry_after_s: float | None = None
    drop: bool = False  # a successful create is applied, then the connection is closed


def decide(settings: FaultSettings, rng: random.Random, method: str) -> Decision:
    """Draw the faults for one request; always four draws, so a seed replays exactly."""
    u_throttle, u_error, u_drop, u_latency = (rng.random() for _ in range(4))
    low, high = settings.latency_s
    latency = low + (high - low) * u_latency
    if u_throttle < settings.throttle_rate:
        return Decision(latency, 429, settings.retry_after_s)
    threshold = 0.0
    for status, rate in settings.errors:
        threshold += rate
        if u_error < threshold:
            return Decision(latency, status)
    drop = method == "POST" and u_drop < settings.commit_then_drop
    return Decision(latency, drop=drop)


class TokenBucket:
    """A token bucket refilled at ``rate`` per second, holding at most ``max(rate, 1)``."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> float:
        """0 when a token was taken; otherwise the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class Faults:
    """The live fault settings with their random generator and per-org buckets."""

    def __init__(self, raw: dict[str, Any] | None = None) -> None:
        self.settings = FaultSettings()
        self.rng = random.Random()
        self.buckets: dict[str, TokenBucket] = {}
        self.injected: Counter[str] = Counter()  # what the faults did, by kind, since the start
        self.replace(raw or {})

    def replace(self, raw: dict[str, Any]) -> FaultSettings:
        """Validate and apply new settings; reseeds and empties the buckets."""
        self.settings = parse_faults(raw)
        self.rng = random.Random(self.settings.seed)
        self.buckets = {}
        return self.settings

    def rate_limited(self, org: str) -> float:
        """0 when the org may proceed; else the seconds to wait (token bucket per org)."""
        rps = self.settings.rate_limit_rps
        if rps is None:
            return 0.0
        bucket = self.buckets.get(org)
        if bucket is None:
            bucket = self.buckets[org] = TokenBucket(rps)
        return bucket.take()


def _kinds(decision: Decision) -> list[str]:
    """The injected faults a decision counts as: ``latency``, a status, ``commit_then_drop``."""
    kinds = ["latency"] if decision.latency_s else []
    if decision.status is not None:
        kinds.append(str(decision.status))
    elif decision.drop:
        kinds.append("commit_then_drop")
    return kinds


def _retry_after_header(seconds: float | None) -> list[tuple[bytes, bytes]]:
    if seconds is None:
        return []
    return [(b"retry-after", str(max(1, math.ceil(seconds))).encode())]


async def _answer_fault(send: Send, path: str, status: int, retry_after: float | None) -> None:
    if status == 429:
        body: dict[str, Any] = gateway_error_body("429050", "Too many requests")
        await send_json(send, 429, body, _retry_after_header(retry_after))
        return
    message = f"Injected fault: the service answered {status}."
    if path.startswith(IMS_PREFIX):
        await send_json(send, status, {"error": "server_error", "error_description": message})
        return
    code = _ERROR_CODES.get(status, 1100)
    await send_json(send, status, service_error_body(service_of(path), code, status, message))


def _transport_of(receive: Receive) -> Any:
    """The server's transport behind ``receive`` (uvicorn binds ``receive`` to its cycle)."""
    return getattr(getattr(receive, "__self__", None), "transport", None)


class ConnectionDroppedError(Exception):
    """Raised when a drop was decided but the server exposes no transport to close."""


class FaultsMiddleware:
    """Applies the live fault settings to every request they cover."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Throttle, fail, delay or drop the request as the settings decide."""
        faults: Faults | None = scope.get("app") and scope["app"].state.faults
        if scope["type"] != "http" or faults is None or not faults.settings.active:
            await self.app(scope, receive, send)
            return
        settings, path = faults.settings, scope["path"]
        if not settings.applies_to(path):
            await self.app(scope, receive, send)
            return
        wait = faults.rate_limited(Headers(scope=scope).get("x-gw-ims-org-id", ""))
        if wait:
            faults.injected["rate_limited"] += 1
            await _answer_fault(send, path, 429, wait)
            return
        decision = decide(settings, faults.rng, scope["method"])
        faults.injected.update(_kinds(decision))
        if decision.status is not None:
            await asyncio.sleep(decision.latency_s)
            await _answer_fault(send, path, decision.status, decision.retry_after_s)
            return
        if not decision.latency_s and not decision.drop:
            await self.app(scope, receive, send)
            return
        await self._delay_or_drop(scope, receive, send, decision)

    async def _delay_or_drop(
        self, scope: Scope, receive: Receive, send: Send, decision: Decision
    ) -> None:
        held: list[Message] = []

        async def hold(message: Message) -> None:
            """Keep the response until the faults have had their say."""
            held.append(message)

        await self.app(scope, receive, hold)
        status = next((m["status"] for m in held if m["type"] == "http.response.start"), 500)
        await asyncio.sleep(decision.latency_s)
        if decision.drop and 200 <= status < 300:
            transport = _transport_of(receive)
            if transport is None:
                raise ConnectionDroppedError("no transport to close")
            transport.close()
            # Let the server see the connection is gone, so it sends no 500 of its own.
            await asyncio.sleep(0)
            return
        for message in held:
            await send(message)

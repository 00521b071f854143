"""Structured logging: one structlog pipeline for our logs and the libraries', secrets redacted.

Every line carries ``time`` (UTC, ISO 8601), ``level``, a stable snake_case ``event`` and the
context bound with ``structlog.contextvars`` (``request_id``, ``message_id``, ``step``,
``attempt``). Standard-library records (kombu, amqp, httpx, uvicorn) go through the same
processors via ``ProcessorFormatter``; their text moves to ``message`` and their event becomes
``<library>_log``. Redaction runs last before rendering, on everything: event text, values,
nested containers, exception messages and tracebacks.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO
from urllib.parse import quote

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

MASK = "***"
LogFormat = Literal["json", "console"]

# Keys whose values are secrets whatever they hold (compared lower-case, "-" as "_").
SECRET_KEYS = frozenset(
    {
        "client_secret",
        "secret",
        "password",
        "passwd",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "authorization",
        "api_key",
        "x_api_key",
        "cookie",
        "set_cookie",
    }
)
_SECRET_KEY_SUFFIXES = ("_secret", "_password", "_token")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer <token> (and Basic credentials)
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + MASK),
    # client_secret=..., "access_token": "...", password: ...
    (
        re.compile(
            r"(?i)\b((?:client_|refresh_|access_|id_)?(?:secret|token)|password|passwd|api_key)"
            r"(\"?'?\s*[=:]\s*\"?'?)(?!\*\*\*)[^\s&\"',;}]+"
        ),
        r"\1\2" + MASK,
    ),
    # JWT-like: three base64url segments, the first a JSON header ("eyJ")
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # URL userinfo: scheme://user:password@host -> scheme://user:***@host
    (re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^@/\s]+@"), r"\1:" + MASK + "@"),
)

# Every pattern above needs one of these; most strings have none and skip the patterns.
_TRIGGER = re.compile(r"(?i)bearer|basic|eyJ|[=:@]")

# Library loggers that go through our pipeline, with the quietest level they log at.
_LIBRARY_FLOORS = {"httpcore": logging.WARNING, "hpack": logging.WARNING}
# Library loggers whose info lines repeat one of ours (httpx's request line: platform_request):
# they log at debug level only, otherwise from warnings up.
_DEBUG_ONLY = ("httpx",)


def _is_secret_key(key: object) -> bool:
    """True when a mapping key names a secret (``client_secret``, ``X-Api-Key``, ...)."""
    if not isinstance(key, str):
        return False
    name = key.lower().replace("-", "_")
    return name in SECRET_KEYS or name.endswith(_SECRET_KEY_SUFFIXES)


class Redactor:
    """A structlog processor that removes secrets from everything in an event dict."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = {s for s in secrets if s}
        known |= {quote(s, safe="") for s in known}
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted(known, key=len, reverse=True)

    def scrub_text(self, text: str) -> str:
        """Mask known secret values and secret-looking patterns in a string."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        if not _TRIGGER.search(text):
            return text
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def scrub(self, value: Any) -> Any:
        """Return the value with secrets masked, walking dicts, lists, tuples and sets."""
        if isinstance(value, str):
            return self.scrub_text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return self._scrub_mapping(value)
        if isinstance(value, list | tuple | set | frozenset):
            return [self.scrub(item) for item in value]
        if isinstance(value, BaseException):
            return self.scrub_text(f"{type(value).__name__}: {value}")
        # Anything else is rendered later through str/repr: scrub that text now.
        return self.scrub_text(str(value))

    def _scrub_mapping(self, mapping: Mapping[Any, Any]) -> dict[Any, Any]:
        """Mask values under secret keys, and secrets in the keys themselves."""
        return {
            (self.scrub_text(key) if isinstance(key, str) else key): (
                MASK if _is_secret_key(key) else self.scrub(value)
            )
            for key, value in mapping.items()
        }

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        """Mask secrets everywhere in the event dict."""
        return self._scrub_mapping(event_dict)


def _library_event(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Give a standard-library record a stable event name, its text moved to ``message``."""
    record = event_dict.get("_record")
    if record is None or event_dict.get("_from_structlog"):  # ours: already a stable name
        return event_dict
    library = re.sub(r"[^a-z0-9]+", "_", record.name.split(".")[0].lower()).strip("_")
    event_dict["message"] = event_dict.get("event")
    event_dict["event"] = f"{library or 'library'}_log"
    event_dict["logger"] = record.name
    return event_dict


def _leading_keys(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Put ``time``, ``level`` and ``event`` first, so a JSON line reads well to people too."""
    head = {key: event_dict.pop(key) for key in ("time", "level", "event") if key in event_dict}
    return {**head, **event_dict}


def _renderer(fmt: LogFormat, stream: TextIO) -> Processor:
    """The final renderer for the chosen format (console: coloured only on a terminal)."""
    if fmt == "console":
        colors = bool(getattr(stream, "isatty", lambda: False)())
        # Tracebacks are already text (format_exc_info runs before redaction): print them plain.
        return structlog.dev.ConsoleRenderer(
            colors=colors, timestamp_key="time", exception_formatter=structlog.dev.plain_traceback
        )
    return structlog.processors.JSONRenderer(sort_keys=False, default=str)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Our root handler, marked so that reconfiguring replaces only it."""


def configure_logging(
    format: LogFormat = "json",
    level: str = "info",
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Route structlog and standard-library logging through one redacting pipeline.

    Call once at the entry point; calling again replaces the previous configuration.
    Logs go to ``stream`` (default: standard error, so command output on stdout stays clean).
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    target = stream if stream is not None else sys.stderr
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True, key="time")
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        timestamper,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Calls below the level return at once, before any processor runs (a dropped debug
        # line costs a method call, not an event dict): a worker logs a few lines per step.
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            _library_event,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            Redactor(secrets),
            _leading_keys,
            _renderer(format, target),
        ],
    )
    handler = _Handler(target)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name, floor in _LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(numeric, floor))
    for name in _DEBUG_ONLY:
        logging.getLogger(name).setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)


@contextmanager
def captured_logs(
    level: str = "debug", secrets: Iterable[str] = ()
) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Test helper: configure JSON logging into memory; yields a function returning the lines.

    Unlike ``structlog.testing.capture_logs`` it runs the whole pipeline, redaction included,
    and standard-library records too. The previous configuration is restored afterwards.
    """
    saved = structlog.get_config()
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    buffer = io.StringIO()
    configure_logging("json", level, stream=buffer, secrets=secrets)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    finally:
        structlog.configure(**saved)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)

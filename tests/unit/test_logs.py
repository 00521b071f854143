"""Logging: JSON or console lines with time, level, event and context; secrets never get out."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from worker.observability.logs import MASK, Redactor, captured_logs, configure_logging

SECRET = "s3cr3t-Value/42"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrZXIifQ.c2lnbmF0dXJl"


@pytest.fixture(autouse=True)
def _clean_context() -> Iterator[None]:
    """No context bound by one test leaks into the next."""
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", f"Authorization: Bearer {MASK}"),
        ("basic dXNlcjpwYXNz", f"basic {MASK}"),
        ("POST /token?client_secret=xyz&grant=1", f"POST /token?client_secret={MASK}&grant=1"),
        ('{"access_token": "abc123", "x": 1}', f'{{"access_token": "{MASK}", "x": 1}}'),
        ("password=hunter2 user=bob", f"password={MASK} user=bob"),
        (f"token {TOKEN} end", f"token {MASK} end"),
        ("amqp://user:pass@rabbit:5672//", f"amqp://user:{MASK}@rabbit:5672//"),
        ("https://a:b@host/path", f"https://a:{MASK}@host/path"),
        ("amqp://guest@host//", "amqp://guest@host//"),
        ("step target_schema completed", "step target_schema completed"),
        ("tokens_remaining=5", "tokens_remaining=5"),
    ],
)
def test_secret_looking_text_is_masked_and_plain_text_kept(text: str, expected: str) -> None:
    assert Redactor().scrub_text(text) == expected


@pytest.mark.parametrize(
    "key",
    ["client_secret", "secret", "password", "token", "access_token", "Authorization", "X-Api-Key"],
)
def test_values_under_secret_keys_are_masked_whatever_they_hold(key: str) -> None:
    scrubbed = Redactor()(None, "info", {"event": "e", key: "plain", "nested": {key: ["plain"]}})
    assert scrubbed[key] == MASK
    assert scrubbed["nested"] == {key: MASK}


def test_a_known_secret_is_masked_wherever_it_appears_even_url_encoded() -> None:
    redactor = Redactor([SECRET])
    assert SECRET not in redactor.scrub_text(f"x {SECRET} y")
    assert "s3cr3t-Value%2F42" not in redactor.scrub_text("q=s3cr3t-Value%2F42")
    assert redactor.scrub({"a": [(f"in {SECRET}",)]}) == {"a": [[f"in {MASK}"]]}


def test_a_json_line_carries_time_level_event_and_bound_context() -> None:
    with captured_logs(level="info") as lines:
        structlog.contextvars.bind_contextvars(
            request_id="crm-42", message_id="m-1", step="dataflow", attempt=2
        )
        structlog.get_logger().info("step_completed", resource_id="flow-1")
        structlog.get_logger().debug("too_detailed")
    (line,) = lines()
    assert line["event"] == "step_completed"
    assert line["level"] == "info"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", line["time"])
    assert (line["request_id"], line["message_id"], line["step"], line["attempt"]) == (
        "crm-42",
        "m-1",
        "dataflow",
        2,
    )
    assert line["resource_id"] == "flow-1"


def test_library_records_go_through_the_same_pipeline_with_a_stable_event() -> None:
    with captured_logs(level="info") as lines:
        structlog.contextvars.bind_contextvars(request_id="crm-7")
        logging.getLogger("kombu.connection").warning("lost connection to %s", "rabbit")
    (line,) = lines()
    assert line["event"] == "kombu_log"
    assert line["logger"] == "kombu.connection"
    assert line["message"] == "lost connection to rabbit"
    assert line["level"] == "warning"
    assert line["request_id"] == "crm-7"


def test_a_secret_never_appears_in_a_log_call_an_exception_or_an_httpx_line() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        """A Platform stand-in answering a token."""
        return httpx.Response(200, json={"access_token": TOKEN})

    with captured_logs(level="debug", secrets=[SECRET]) as lines:
        log = structlog.get_logger()
        log.info("credentials_loaded", client_secret=SECRET, note=f"the secret is {SECRET}")
        log.info("token_received", headers={"Authorization": f"Bearer {TOKEN}"}, raw=TOKEN)
        try:
            raise RuntimeError(f"IMS refused client_secret={SECRET} with Bearer {TOKEN}")
        except RuntimeError as error:
            log.exception("token_request_failed", error=error)
        userinfo = f"client:{quote(SECRET, safe='')}"
        with httpx.Client(transport=httpx.MockTransport(platform)) as client:
            client.post(
                f"https://{userinfo}@ims.example/ims/token/v3?client_secret={SECRET}",
                data={"client_secret": SECRET},
            )
    output = json.dumps(lines())
    events = [line["event"] for line in lines()]
    assert "httpx_log" in events
    assert "Traceback" in output
    assert SECRET not in output
    assert "s3cr3t-Value%2F42" not in output
    assert TOKEN not in output
    assert MASK in output


def test_the_console_format_is_readable_and_redacted() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved, saved_handlers, saved_level = structlog.get_config(), list(root.handlers), root.level
    try:
        configure_logging("console", "info", stream=stream, secrets=[SECRET])
        structlog.get_logger().info("worker_started", broker=f"amqp://u:{SECRET}@h//")
        try:
            raise RuntimeError(f"refused {SECRET}")
        except RuntimeError:
            structlog.get_logger().exception("worker_crashed")
    finally:
        structlog.configure(**saved)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    text = stream.getvalue()
    assert "worker_started" in text
    assert "RuntimeError: refused ***" in text
    assert "[info" in text
    assert SECRET not in text
    assert not text.lstrip().startswith("{")


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("json", "chatty", stream=io.StringIO())


def test_a_library_traceback_is_redacted_too() -> None:
    with captured_logs(level="info", secrets=[SECRET]) as lines:
        try:
            raise ConnectionError(f"cannot reach amqp://guest:{SECRET}@rabbit//")
        except ConnectionError:
            logging.getLogger("amqp.connection").exception("connection failed")
    (line,) = lines()
    assert line["event"] == "amqp_log"
    assert "ConnectionError: cannot reach amqp://guest:***@rabbit//" in line["exception"]
    assert SECRET not in json.dumps(line)


def test_reconfiguring_replaces_the_previous_handler_instead_of_adding_one() -> None:
    root = logging.getLogger()
    with captured_logs():
        before = len(root.handlers)
        configure_logging("json", "info", stream=io.StringIO())
        assert len(root.handlers) == before


_SECRET_TEXT = st.text(
    alphabet=st.characters(categories=["L", "N"], include_characters="-_./+"), min_size=4
)


@given(secret=_SECRET_TEXT, before=st.text(), after=st.text(), key=st.text(max_size=20))
def test_a_known_secret_never_survives_whatever_surrounds_it(
    secret: str, before: str, after: str, key: str
) -> None:
    redactor = Redactor([secret])
    scrubbed = redactor(None, "info", {"event": before + secret + after, key: [{"v": secret}]})
    assert not [text for text in _strings(scrubbed) if secret in text]


def _strings(value: Any) -> Iterator[str]:
    """Every string in a nested structure, mapping keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)

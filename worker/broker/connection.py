"""The one place where kombu and py-amqp errors become `BrokerError`, and connections are made.

Publisher and consumer both go through `broker_errors()`, so no kombu or amqp exception reaches
the engine, the app or the commands.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from amqp.exceptions import AccessRefused, NotAllowed, NotFound
from kombu import Connection

from worker.broker import tls
from worker.config import BrokerTarget
from worker.errors import BrokerConfigurationError, BrokerError

# Seconds between AMQP heartbeats; the broker thread checks them about once a second.
HEARTBEAT_SECONDS = 20
_CHECK = "check DATAFLOW_BROKER_URL"


def connect(target: BrokerTarget, *, confirms: bool = False) -> Connection:
    """A kombu connection (not yet opened); verified TLS for amqps://, confirms when asked.

    Every broker connection of the worker and its commands is made here.
    """
    options = {"confirm_publish": True} if confirms else {}
    heartbeat = 0 if uses_memory(target.url) else HEARTBEAT_SECONDS
    return Connection(
        target.url, heartbeat=heartbeat, transport_options=options, ssl=tls.tls_options(target)
    )


def uses_memory(url: str) -> bool:
    """True for kombu's in-process transport, which has no TTL and no dead-lettering."""
    return url.startswith("memory://")


def recoverable_errors(connection: Connection) -> tuple[type[BaseException], ...]:
    """The exceptions after which a new connection may succeed."""
    errors: tuple[type[BaseException], ...] = (
        *connection.recoverable_connection_errors,
        *connection.recoverable_channel_errors,
        *connection.connection_errors,
        *connection.channel_errors,
        OSError,
    )
    return errors


@contextmanager
def broker_errors(action: str) -> Iterator[None]:
    """Translate every kombu, py-amqp and socket error raised inside into `BrokerError`."""
    try:
        yield
    except BrokerError:
        raise
    except TimeoutError as error:
        raise BrokerError(f"{action}: timed out waiting for the broker") from error
    except Exception as error:  # kombu and amqp errors share no common base worth naming
        if (refused := tls.certificate_cause(error)) is not None:
            raise tls.refusal(action, refused) from error
        if _is_foreign(error):
            message = f"{action}: {type(error).__name__}: {error}"
            hint = settings_hint(error)
            if hint is not None:
                raise BrokerConfigurationError(f"{message} ({hint})") from error
            raise BrokerError(message) from error
        raise


def settings_hint(error: BaseException) -> str | None:
    """What to check when ``error`` means the broker settings cannot work; None when transient.

    A refused login, a missing vhost, a refused permission, nothing listening and an unknown
    host all come from ``DATAFLOW_BROKER_URL`` (or the broker's users), not from bad luck.
    """
    text = str(error)
    if isinstance(error, AccessRefused) or "ACCESS_REFUSED" in text:
        if "Login was refused" in text:
            return f"the broker refused the user name or password: {_CHECK}"
        return f"the broker user lacks a permission: {_CHECK} and the user's permissions"
    if isinstance(error, NotAllowed) or "NOT_ALLOWED" in text:
        if "not found" in text:
            return f"no such virtual host ('//' is the default vhost '/'): {_CHECK}"
        return f"the broker user may not use this virtual host: {_CHECK}"
    if isinstance(error, ConnectionRefusedError) or "Connection refused" in text:
        return f"is the broker running? {_CHECK}"
    if isinstance(error, socket.gaierror) or "Name or service not known" in text:
        return f"the broker's host name does not resolve: {_CHECK}"
    return None


def _is_foreign(error: BaseException) -> bool:
    """True for errors raised by kombu, py-amqp or the socket layer."""
    module = type(error).__module__
    return module.startswith(("kombu", "amqp")) or isinstance(error, OSError)


def is_missing(error: BaseException) -> bool:
    """True for the broker's 404 NOT_FOUND: a passive declare of something that does not exist."""
    return isinstance(error, NotFound)


@contextmanager
def opened(target: BrokerTarget, action: str) -> Iterator[Connection]:
    """A connection for a short command (``action`` names it in errors), released afterwards."""
    with broker_errors(action):
        connection = connect(target)
        connection.ensure_connection(max_retries=2, interval_start=0.2)
    try:
        yield connection
    finally:
        with broker_errors("closing the broker connection"):
            connection.release()

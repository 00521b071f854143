"""The one place where kombu and py-amqp errors become `BrokerError`, and connections are made.

Publisher and consumer both go through `broker_errors()`, so no kombu or amqp exception reaches
the engine, the app or the commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kombu import Connection

from worker.broker import tls
from worker.config import BrokerTarget
from worker.errors import BrokerError

# Seconds between AMQP heartbeats; the broker thread checks them about once a second.
HEARTBEAT_SECONDS = 20
_REFUSED_HINT = " (is the broker running? check DATAFLOW_BROKER_URL)"


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
            hint = _REFUSED_HINT if "Connection refused" in str(error) else ""
            raise BrokerError(f"{action}: {type(error).__name__}: {error}{hint}") from error
        raise


def _is_foreign(error: BaseException) -> bool:
    """True for errors raised by kombu, py-amqp or the socket layer."""
    module = type(error).__module__
    return module.startswith(("kombu", "amqp")) or isinstance(error, OSError)

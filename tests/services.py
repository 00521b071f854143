"""Where the real services of the integration tests are, and what to do when one is missing.

On a laptop a missing service skips its tests with the reason; in CI (``CI`` set) it fails them,
so a broken CI machine can never pass by skipping.
"""

from __future__ import annotations

import os
import socket

import pytest

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MARIADB_URL = os.environ.get("TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")

_PORTS = {"rabbitmq": 5672, "postgresql": 5432, "mariadb": 3306}


def in_ci() -> bool:
    """True when running under CI, where a missing service is a failure, not a skip."""
    return bool(os.environ.get("CI"))


def require_service(name: str) -> None:
    """Skip (laptop) or fail (CI) the calling test unless the service answers on loopback."""
    port = _PORTS[name]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return
    except OSError as error:
        reason = f"{name} is not reachable on 127.0.0.1:{port} ({error.strerror or error})"
    if in_ci():
        pytest.fail(f"{reason}; CI must start it (see .ci/run)")
    pytest.skip(f"{reason}; start it to run this test")

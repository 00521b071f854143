"""Shared fixtures: real services for integration tests, skipped on a laptop, required in CI."""

from __future__ import annotations

import pytest

from tests.services import MARIADB_URL, POSTGRES_URL, RABBITMQ_URL, require_service


@pytest.fixture
def rabbitmq_url() -> str:
    """The URL of a reachable RabbitMQ."""
    require_service("rabbitmq")
    return RABBITMQ_URL


@pytest.fixture
def postgres_url() -> str:
    """The URL of a reachable PostgreSQL."""
    require_service("postgresql")
    return POSTGRES_URL


@pytest.fixture
def mariadb_url() -> str:
    """The URL of a reachable MariaDB."""
    require_service("mariadb")
    return MARIADB_URL


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio, the only loop the worker uses."""
    return "asyncio"

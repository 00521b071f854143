"""Fixtures of the end-to-end scenarios: a topology, a ledger and processes, cleaned up after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.scenario import Scenario, postgres_database


@pytest.fixture
def scenario(rabbitmq_url: str, tmp_path: Path) -> Iterator[Scenario]:
    """A topology, a SQLite ledger and processes, all cleaned up afterwards."""
    world = Scenario(tmp_path, rabbitmq_url, f"sqlite:///{tmp_path / 'state.db'}")
    yield world
    world.close()


@pytest.fixture
def postgres_scenario(rabbitmq_url: str, postgres_url: str, tmp_path: Path) -> Iterator[Scenario]:
    """A topology and a fresh PostgreSQL ledger database, cleaned up afterwards."""
    with postgres_database(postgres_url) as state_url:
        world = Scenario(tmp_path, rabbitmq_url, state_url)
        yield world
        world.close()

"""Fixtures for the message contract tests: the tutorial's request as data."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "messages" / "examples"


@pytest.fixture
def tutorial() -> dict[str, Any]:
    """The tutorial's BigQuery example written as DataflowRequested data (a fresh copy)."""
    data: dict[str, Any] = json.loads((EXAMPLES / "tutorial-bigquery.json").read_text())
    return copy.deepcopy(data)

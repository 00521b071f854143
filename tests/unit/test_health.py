"""Health probes and the metrics address: pure parts of the health server."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from worker.errors import ConfigurationError
from worker.observability.health import evaluate, parse_address, probe_response


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("10.1.2.3:0", ("10.1.2.3", 0)),
        ("localhost:80", ("localhost", 80)),
        ("[::1]:9464", ("::1", 9464)),
    ],
)
def test_a_host_and_port_address_is_split(address: str, expected: tuple[str, int]) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["9464", ":9464", "host:", "host:http", "host:70000"])
def test_a_malformed_address_is_a_configuration_error_naming_the_variable(address: str) -> None:
    with pytest.raises(ConfigurationError, match="DATAFLOW_METRICS_ADDR"):
        parse_address(address)


@pytest.mark.parametrize(
    ("results", "status", "failed"),
    [
        ({}, 200, None),
        ({"broker": True, "ledger": True, "circuit": True}, 200, None),
        ({"broker": False, "ledger": True, "circuit": True}, 503, ["broker"]),
        ({"broker": True, "ledger": False, "circuit": False}, 503, ["circuit", "ledger"]),
    ],
)
def test_a_probe_answers_200_only_when_every_check_passes(
    results: Mapping[str, bool], status: int, failed: list[str] | None
) -> None:
    code, body = probe_response(results)
    document = json.loads(body)
    assert code == status
    assert document["checks"] == dict(results)
    assert document.get("failed") == failed
    assert document["status"] == ("ok" if status == 200 else "fail")


def test_a_probe_that_raises_counts_as_a_failed_check() -> None:
    def broken() -> Mapping[str, bool]:
        """A probe whose check itself fails."""
        raise RuntimeError("ledger driver exploded")

    assert evaluate(broken) == {"probe": False}

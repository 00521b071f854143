"""Broker errors are translated in one place, with a hint when nothing listens."""

from __future__ import annotations

import pytest

from worker.broker.connection import broker_errors
from worker.errors import BrokerError


def test_a_refused_connection_says_what_to_check() -> None:
    hint = r"publishing: .*refused.*DATAFLOW_BROKER_URL"
    with pytest.raises(BrokerError, match=hint), broker_errors("publishing"):
        raise ConnectionRefusedError(111, "Connection refused")


def test_other_socket_errors_carry_no_hint() -> None:
    with pytest.raises(BrokerError) as raised, broker_errors("publishing"):
        raise ConnectionResetError(104, "Connection reset by peer")
    assert "DATAFLOW_BROKER_URL" not in str(raised.value)


def test_errors_of_our_own_code_are_not_translated() -> None:
    with pytest.raises(KeyError), broker_errors("publishing"):
        raise KeyError("a bug")

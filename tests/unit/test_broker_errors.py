"""Broker errors are translated in one place, with what to check when the settings are wrong."""

from __future__ import annotations

import socket

import pytest
from amqp.exceptions import AccessRefused, NotAllowed, PreconditionFailed
from kombu.exceptions import OperationalError

from worker.broker.connection import broker_errors
from worker.errors import BrokerConfigurationError, BrokerError, ConfigurationError

LOGIN_REFUSED = "(0, 0): (403) ACCESS_REFUSED - Login was refused using authentication mechanism"


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "is the broker running?"),
        (OperationalError("[Errno 111] Connection refused"), "is the broker running?"),
        (AccessRefused(LOGIN_REFUSED), "refused the user name or password"),
        (AccessRefused("access to queue 'q' in vhost '/' refused for user 'u'"),
         "lacks a permission"),
        (NotAllowed("Connection.open: (530) NOT_ALLOWED - vhost shop not found"),
         "no such virtual host"),
        (NotAllowed("(530) NOT_ALLOWED - access to vhost 'shop' refused for user 'u'"),
         "may not use this virtual host"),
        (socket.gaierror(-2, "Name or service not known"), "host name does not resolve"),
    ],
)  # fmt: skip
def test_errors_that_bad_settings_cause_are_configuration_errors_that_say_what_to_check(
    error: Exception, hint: str
) -> None:
    with pytest.raises(BrokerConfigurationError) as raised, broker_errors("publishing"):
        raise error
    message = str(raised.value)
    assert message.startswith(f"publishing: {type(error).__name__}: ")
    assert message.endswith("check DATAFLOW_BROKER_URL)") or "DATAFLOW_BROKER_URL and" in message
    assert hint in message
    assert isinstance(raised.value, ConfigurationError)  # a command exits 2
    assert isinstance(raised.value, BrokerError)  # a running worker reconnects


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError(104, "Connection reset by peer"),
        PreconditionFailed("(406) PRECONDITION_FAILED - inequivalent arg"),
    ],
)
def test_other_broker_errors_carry_no_hint_and_are_no_configuration_error(
    error: Exception,
) -> None:
    with pytest.raises(BrokerError) as raised, broker_errors("publishing"):
        raise error
    assert not isinstance(raised.value, ConfigurationError)
    assert "DATAFLOW_BROKER_URL" not in str(raised.value)


def test_errors_of_our_own_code_are_not_translated() -> None:
    with pytest.raises(KeyError), broker_errors("publishing"):
        raise KeyError("a bug")

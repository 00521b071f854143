"""Broker TLS settings: what is refused at load time, the options py-amqp gets, refusals."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from worker.broker.tls import certificate_cause, is_refusal, refusal, tls_options
from worker.config import BrokerTarget, load_settings
from worker.errors import BrokerCertificateError, BrokerError, ConfigurationError

TLS_URL = "amqps://worker:secret@localhost:5671/prod"


@pytest.fixture
def pem(tmp_path: Path) -> dict[str, str]:
    """A CA bundle and a client certificate with its key, as PEM files."""
    ca = trustme.CA()
    client = ca.issue_cert("worker@example.test")
    paths = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    client.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    client.private_key_pem.write_to_path(str(paths["key"]))
    return {name: str(path) for name, path in paths.items()}


def broker_of(environ: dict[str, str]) -> BrokerTarget:
    """The checked broker target of settings built from ``environ`` alone."""
    return load_settings(environ).broker()


def test_the_tls_settings_become_the_broker_target(pem: dict[str, str]) -> None:
    target = broker_of(
        {
            "DATAFLOW_BROKER_URL": TLS_URL,
            "DATAFLOW_BROKER_CA_BUNDLE": pem["ca"],
            "DATAFLOW_BROKER_CLIENT_CERT": pem["cert"],
            "DATAFLOW_BROKER_CLIENT_KEY": pem["key"],
        }
    )
    assert target == BrokerTarget(TLS_URL, pem["ca"], pem["cert"], pem["key"])
    assert target.tls
    assert "secret" not in repr(target)


def test_plain_amqp_gets_no_tls() -> None:
    assert tls_options(BrokerTarget("amqp://guest:guest@localhost:5672//")) is False


def test_amqps_verifies_the_certificate_and_the_url_host_name_against_the_system_store() -> None:
    options = tls_options(BrokerTarget(TLS_URL))
    assert isinstance(options, dict)
    assert options["cert_reqs"] == ssl.CERT_REQUIRED
    assert options["server_hostname"] == "localhost"  # not kombu's rewrite to 127.0.0.1
    assert options["ca_certs"] is None  # None: py-amqp loads the system's trust store
    assert options["tls_minimum_version"] == ssl.TLSVersion.TLSv1_2


def test_amqps_trusts_the_ca_bundle_and_presents_the_client_certificate(
    pem: dict[str, str],
) -> None:
    options = tls_options(BrokerTarget(TLS_URL, pem["ca"], pem["cert"], pem["key"]))
    assert isinstance(options, dict)
    assert (options["ca_certs"], options["certfile"], options["keyfile"]) == (
        pem["ca"],
        pem["cert"],
        pem["key"],
    )


@pytest.mark.parametrize(
    "query",
    ["ssl_cert_reqs=CERT_NONE", "ssl_check_hostname=false", "ssl=1"],
)
def test_tls_options_in_the_url_are_refused_so_verification_cannot_be_switched_off(
    query: str,
) -> None:
    with pytest.raises(ConfigurationError, match="verification cannot be switched off"):
        broker_of({"DATAFLOW_BROKER_URL": f"{TLS_URL}?{query}"})


def test_tls_files_with_a_plain_url_are_refused(pem: dict[str, str]) -> None:
    environ = {"DATAFLOW_BROKER_URL": "amqp://localhost//", "DATAFLOW_BROKER_CA_BUNDLE": pem["ca"]}
    with pytest.raises(ConfigurationError, match=r"DATAFLOW_BROKER_CA_BUNDLE is set .* amqps://"):
        broker_of(environ)


def test_a_client_key_without_a_certificate_is_refused(pem: dict[str, str]) -> None:
    environ = {"DATAFLOW_BROKER_URL": TLS_URL, "DATAFLOW_BROKER_CLIENT_KEY": pem["key"]}
    with pytest.raises(ConfigurationError, match="without DATAFLOW_BROKER_CLIENT_CERT"):
        broker_of(environ)


def test_a_missing_ca_bundle_names_its_variable(tmp_path: Path) -> None:
    environ = {
        "DATAFLOW_BROKER_URL": TLS_URL,
        "DATAFLOW_BROKER_CA_BUNDLE": str(tmp_path / "missing.pem"),
    }
    with pytest.raises(ConfigurationError, match=r"DATAFLOW_BROKER_CA_BUNDLE: .* not a readable"):
        broker_of(environ)


def test_a_failover_list_is_refused_with_tls() -> None:
    with pytest.raises(ConfigurationError, match="failover"):
        broker_of({"DATAFLOW_BROKER_URL": f"{TLS_URL};amqps://other:5671/prod"})


def test_a_file_that_is_not_pem_is_a_configuration_error_naming_its_variable(
    tmp_path: Path, pem: dict[str, str]
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ConfigurationError, match="DATAFLOW_BROKER_CA_BUNDLE: cannot use"):
        tls_options(BrokerTarget(TLS_URL, ca_bundle=str(garbage)))
    with pytest.raises(ConfigurationError, match="DATAFLOW_BROKER_CLIENT_CERT: cannot use"):
        tls_options(BrokerTarget(TLS_URL, client_cert=pem["ca"]))  # a certificate, no key


def test_an_untrusted_certificate_is_a_one_line_configuration_and_broker_error() -> None:
    failure = ssl.SSLCertVerificationError(1, "certificate verify failed")
    failure.verify_message = "unable to get local issuer certificate"
    error = refusal("connecting the publisher", failure)
    assert isinstance(error, ConfigurationError)
    assert isinstance(error, BrokerError)
    assert not error.retryable
    assert "\n" not in str(error)
    assert str(error).startswith("connecting the publisher: the broker's TLS certificate was")
    assert "unable to get local issuer certificate" in str(error)
    assert isinstance(error, BrokerCertificateError)


def test_the_refusal_is_found_behind_kombus_wrapping() -> None:
    failure = ssl.SSLCertVerificationError(1, "certificate verify failed")
    outer = RuntimeError("wrapped")
    outer.__cause__ = failure
    assert certificate_cause(outer) is failure


def test_a_tls_connection_cut_is_not_a_refusal() -> None:
    assert not is_refusal(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"))
    assert certificate_cause(ConnectionResetError(104, "reset")) is None


def test_a_key_given_as_content_instead_of_a_path_is_refused_without_echoing_it(
    pem: dict[str, str],
) -> None:
    environ = {
        "DATAFLOW_BROKER_URL": TLS_URL,
        "DATAFLOW_BROKER_CLIENT_CERT": pem["cert"],
        "DATAFLOW_BROKER_CLIENT_KEY_FILE": pem["key"],  # the key itself, not a file naming it
    }
    with pytest.raises(ConfigurationError, match="give the path of a PEM file") as caught:
        broker_of(environ)
    assert "PRIVATE KEY" not in str(caught.value)

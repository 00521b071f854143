"""TLS to the broker: the options every ``amqps://`` connection uses, and what a refusal means.

Verification is never off: py-amqp is given ``cert_reqs=CERT_REQUIRED`` and the host name of
the URL as ``server_hostname`` (kombu would leave the host name unchecked without it, and would
check ``127.0.0.1`` instead of ``localhost``). Trust comes from ``DATAFLOW_BROKER_CA_BUNDLE``
when it is set, otherwise from the system's store. The PEM files are loaded into a throwaway
context first, so a bad file is a configuration error that names its variable instead of a
broker error on every reconnect.
"""

from __future__ import annotations

import ssl
from typing import Any

from worker.config import PREFIX, BrokerTarget
from worker.errors import BrokerCertificateError, ConfigurationError

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
_CERTIFICATE_ALERTS = ("CERTIFICATE", "UNKNOWN_CA")


def tls_options(target: BrokerTarget) -> dict[str, Any] | bool:
    """The ``ssl`` argument of a kombu connection: False for ``amqp://``, else verified TLS."""
    if not target.tls:
        return False
    check_files(target)
    return {
        "cert_reqs": ssl.CERT_REQUIRED,
        "server_hostname": target.host,
        "ca_certs": target.ca_bundle,
        "certfile": target.client_cert,
        "keyfile": target.client_key,
        "tls_minimum_version": MINIMUM_VERSION,
    }


def check_files(target: BrokerTarget) -> None:
    """Load the CA bundle and the client certificate as py-amqp will; one line when one is bad."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if target.ca_bundle:
        _load(f"{PREFIX}BROKER_CA_BUNDLE", context.load_verify_locations, target.ca_bundle)
    if target.client_cert:
        _load(
            f"{PREFIX}BROKER_CLIENT_CERT",
            context.load_cert_chain,
            target.client_cert,
            target.client_key,
        )


def _load(variable: str, load: Any, *paths: str | None) -> None:
    try:
        load(*paths)
    except (ssl.SSLError, OSError) as error:
        reason = getattr(error, "reason", None) or error.strerror or str(error)
        raise ConfigurationError(f"{variable}: cannot use {paths[0]}: {reason}") from None


def is_refusal(error: BaseException) -> bool:
    """True when TLS failed over a certificate: theirs not trusted or not for the host, or ours."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return True
    reason = getattr(error, "reason", None)
    return (
        isinstance(error, ssl.SSLError)
        and isinstance(reason, str)
        and any(alert in reason for alert in _CERTIFICATE_ALERTS)
    )


def refusal(action: str, error: BaseException) -> BrokerCertificateError:
    """The one-line error for a refused certificate, saying which setting to check."""
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = error.verify_message or error.reason or str(error)
        hint = f"check the host name in {PREFIX}BROKER_URL and {PREFIX}BROKER_CA_BUNDLE"
        return BrokerCertificateError(
            f"{action}: the broker's TLS certificate was refused ({detail}); {hint}"
        )
    reason = getattr(error, "reason", None) or str(error)
    return BrokerCertificateError(
        f"{action}: the broker refused our TLS client certificate ({reason}); "
        f"check {PREFIX}BROKER_CLIENT_CERT and {PREFIX}BROKER_CLIENT_KEY"
    )


def certificate_cause(error: BaseException) -> BaseException | None:
    """The TLS certificate failure behind ``error`` (kombu wraps it), or None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if is_refusal(current):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None

"""The worker's error tree. Foreign errors are translated into these at each boundary.

::

    DataflowError                     base; every error says whether a retry can help
    ├── ConfigurationError            bad settings or CLI usage (exit code 2), never retryable
    ├── PlatformError                 anything the Platform client raises
    │   ├── RetryableError            timeouts, connection errors, 408, 429, 5xx, IMS 5xx
    │   │   │                         (carries retry_after_seconds when the server gave one)
    │   │   └── OutcomeUnknownError   the request may have been applied (dropped connection or
    │   │                             timeout after the body was sent): look up before creating
    │   ├── RejectedError             any other 4xx: status, code, title, detail from the Platform
    │   │   ├── NotFoundError         404 (on a DELETE: already deleted)
    │   │   └── InUseError            a DELETE refused because another resource still uses it
    │   ├── StaleEtagError            412: the resource changed since its etag was read; re-read
    │   │                             it and apply the change again (not retried as it is)
    │   └── AuthenticationError       IMS refused the credentials, or 401 after a fresh token:
    │                                 the worker stops taking work; it fails no request
    ├── LedgerError                   the ledger cannot be read or written
    │   └── LeaseLostError            another worker holds the request's lease (fencing)
    ├── BrokerError                   the broker refused or lost a publish (unconfirmed)
    │   └── BrokerConfigurationError  also a ConfigurationError: the settings cannot work (login
    │       │                         or vhost refused, nothing listens, unknown host); a command
    │       │                         exits 2, a running worker keeps reconnecting
    │       └── BrokerCertificateError  TLS refused a certificate (the worker stays unready and
    │                                 keeps trying: a rotated certificate may fix it)
    └── SourceDatabaseError           `discover` cannot reach or read the source database
"""

from __future__ import annotations


class DataflowError(Exception):
    """Base of every error the worker raises on purpose."""

    retryable: bool = False


class ConfigurationError(DataflowError):
    """Settings or command-line usage that cannot work; the message says what to fix."""


class PlatformError(DataflowError):
    """An error talking to Adobe Experience Platform or IMS, with what the Platform said.

    ``retry_after_seconds`` is set only on retryable errors, when the server gave a Retry-After.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: float | None = None,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        api: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.api = api
        self.retry_after_seconds = retry_after_seconds


class RetryableError(PlatformError):
    """A transient failure: the same call may succeed later."""

    retryable = True


class OutcomeUnknownError(RetryableError):
    """The request may have been applied; the step must look the resource up first."""


class RejectedError(PlatformError):
    """The Platform refused the request (a 4xx other than 401, 408 and 429)."""


class NotFoundError(RejectedError):
    """The Platform answered 404."""


class InUseError(RejectedError):
    """The Platform refused to delete a resource that another one still uses.

    Decided from the service's error code (`worker.platform.http.IN_USE_CODES`): a flow still
    uses the connection, a schema the field group, a dataset the schema. Deleting the user first
    lets the delete succeed; the same call alone never will.
    """


class StaleEtagError(PlatformError):
    """The Platform answered 412: the resource changed since the etag sent in ``If-Match``.

    Not retryable by the generic policy: sending the same request again fails the same way. The
    caller re-reads the resource (and its new etag), decides whether its change still applies,
    and sends it again.
    """


class AuthenticationError(PlatformError):
    """The credentials do not work; the worker must stop taking work until a probe succeeds."""


class LedgerError(DataflowError):
    """The durable ledger could not be read or written."""

    retryable = True


class LeaseLostError(LedgerError):
    """This worker no longer holds the lease on a request; it must stop writing for it."""

    retryable = False


class BrokerError(DataflowError):
    """A publish was not confirmed by the broker, or the broker connection failed."""

    retryable = True


class BrokerConfigurationError(BrokerError, ConfigurationError):
    """The broker cannot be used with these settings; the message says what to check."""


class BrokerCertificateError(BrokerConfigurationError):
    """TLS to the broker failed over a certificate: untrusted, for another host, or ours refused.

    A configuration error (the CLI exits 2), and a broker error, so the worker's consumer stays
    disconnected and unready and tries again later (a rotated certificate may fix it).
    """

    retryable = False


class SourceDatabaseError(DataflowError):
    """The source database of ``discover`` cannot be reached or read."""

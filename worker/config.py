"""Settings: the only place that reads the environment (contract section 5).

Every variable may also be given as ``<NAME>_FILE``, the path of a file holding its value, so
secrets can come from mounted files. A ``.env`` file in the working directory is read too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from worker.errors import ConfigurationError

PREFIX = "DATAFLOW_"
TLS_SCHEME = "amqps"
# The largest request of 2000 columns the model accepts (names and types at their 1024-character
# maximum, a mapping for each column) encodes to 10.06 MiB; the limit leaves room above it.
# Database identifiers (at most 300 characters, BigQuery) make 2.7 MiB (docs/operations.md).
DEFAULT_MAX_MESSAGE_BYTES = 12 * 1024 * 1024


@dataclass(frozen=True)
class BrokerTarget:
    """Where the broker is and the PEM files its TLS uses: all a broker connection is made from.

    With an ``amqps://`` URL the broker's certificate and host name are always verified, against
    ``ca_bundle`` when set, else the system's trust store; ``client_cert`` (and ``client_key``,
    unless the certificate file holds the key) is presented when set.
    """

    url: str
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    @property
    def tls(self) -> bool:
        """True for an ``amqps://`` URL."""
        return urlsplit(self.url).scheme == TLS_SCHEME

    @property
    def host(self) -> str:
        """The host name the broker's certificate must match (kombu's default when absent)."""
        return urlsplit(self.url).hostname or "localhost"

    def __repr__(self) -> str:  # the URL may hold a password
        return f"BrokerTarget(tls={self.tls}, host={self.host!r}, ca_bundle={self.ca_bundle!r})"


def check_broker_target(target: BrokerTarget) -> BrokerTarget:
    """Refuse TLS settings that cannot work or would weaken verification; one line each."""
    query = urlsplit(target.url).query
    if any(key == "ssl" or key.startswith("ssl_") for key, _ in parse_qsl(query)):
        raise ConfigurationError(
            f"{PREFIX}BROKER_URL: TLS options in the URL are not accepted (verification cannot "
            f"be switched off); use an amqps:// URL and {PREFIX}BROKER_CA_BUNDLE"
        )
    files = {
        "BROKER_CA_BUNDLE": target.ca_bundle,
        "BROKER_CLIENT_CERT": target.client_cert,
        "BROKER_CLIENT_KEY": target.client_key,
    }
    given = [name for name, path in files.items() if path]
    if given and not target.tls:
        raise ConfigurationError(
            f"{PREFIX}{given[0]} is set but {PREFIX}BROKER_URL is not amqps://: "
            "the connection would not use TLS"
        )
    if target.client_key and not target.client_cert:
        raise ConfigurationError(
            f"{PREFIX}BROKER_CLIENT_KEY is set without {PREFIX}BROKER_CLIENT_CERT"
        )
    if target.tls and ";" in target.url:
        raise ConfigurationError(
            f"{PREFIX}BROKER_URL: a failover list is not supported with amqps://; give one URL"
        )
    for name in given:
        if "-----BEGIN" in str(files[name]) or "\n" in str(files[name]):
            # never echo it: with *_FILE pointing at the PEM itself this may be a private key
            raise ConfigurationError(
                f"{PREFIX}{name}: give the path of a PEM file, not its content "
                f"({PREFIX}{name}_FILE names a file that holds the path)"
            )
        path = Path(str(files[name]))
        if not (path.is_file() and os.access(path, os.R_OK)):
            raise ConfigurationError(f"{PREFIX}{name}: {path} is not a readable file")
    return target


BROKER_SCHEMES = ("amqp", "amqps", "memory")
"""URL schemes of ``DATAFLOW_BROKER_URL``: RabbitMQ (plain or TLS), or kombu's in-process broker."""

LEDGER_SCHEMES = ("sqlite", "postgresql", "postgres")
"""URL schemes of ``DATAFLOW_STATE_URL``: the two ledger variants."""


def scheme_problem(url: str, schemes: tuple[str, ...], example: str) -> str | None:
    """Why ``url`` cannot work (an unknown or missing scheme), or None; never repeats the URL.

    The URL may carry a password, so the message names only the scheme.
    """
    scheme, separator, _ = url.partition(":")
    if not separator or not scheme:
        return f"not a URL (no scheme): use {example}"
    if scheme.lower() not in schemes:
        return f"unsupported scheme {scheme!r}: use {example}"
    return None


class Settings(BaseSettings):
    """Everything the worker and its commands can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    broker_url: str = "amqp://guest:guest@localhost:5672//"
    broker_ca_bundle: str | None = None
    broker_client_cert: str | None = None
    broker_client_key: str | None = None
    state_url: str = "sqlite:///dataflow-state.db"
    platform_url: str = "https://platform.adobe.io"
    ims_url: str = "https://ims-na1.adobelogin.com"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    org_id: str | None = None
    scopes: str = (
        "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session"
    )
    sandbox: str = "prod"
    concurrency: int = Field(default=16, ge=1, le=256)
    follow_runs: bool = False
    drain_seconds: float = Field(default=30, ge=0)
    metrics_addr: str = "127.0.0.1:9464"
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Additions beyond contract section 5 (documented in README "Configuration").
    topology_prefix: str = "dataflow"
    ca_bundle: str | None = None
    http_timeout_seconds: float = Field(default=30, gt=0)
    retry_max_attempts: int = Field(default=8, ge=1)
    retry_max_seconds: float = Field(default=3600, gt=0)
    poison_deliveries: int = Field(default=5, ge=2)
    prune_after_days: float = Field(default=30, gt=0)
    follow_first_wait_seconds: float = Field(default=16, gt=0)
    max_message_bytes: int = Field(default=DEFAULT_MAX_MESSAGE_BYTES, ge=1024)
    lease_seconds: float = Field(default=15, ge=3)
    platform_max_in_flight: int = Field(default=64, ge=1, le=1024)
    platform_adaptive_concurrency: bool = True

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: str) -> str:
        example = "amqp://USER:PASSWORD@HOST:5672/VHOST (amqps:// for TLS, memory:// in-process)"
        problem = scheme_problem(value, BROKER_SCHEMES, example)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("state_url")
    @classmethod
    def _ledger_scheme(cls, value: str) -> str:
        problem = scheme_problem(value, LEDGER_SCHEMES, "sqlite:///PATH or postgresql://...")
        sqlite = value.lower().startswith("sqlite:")
        if problem is None and sqlite and (value[:10] != "sqlite:///" or len(value) == 10):
            problem = "a SQLite ledger is sqlite:///PATH (sqlite:////PATH for an absolute path)"
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    def broker(self) -> BrokerTarget:
        """The broker URL and its TLS files, checked: what every broker connection needs."""
        return check_broker_target(
            BrokerTarget(
                url=self.broker_url,
                ca_bundle=self.broker_ca_bundle or None,
                client_cert=self.broker_client_cert or None,
                client_key=self.broker_client_key or None,
            )
        )

    def require_credentials(self) -> None:
        """Fail with one readable line when `run` lacks what IMS needs."""
        missing = [
            PREFIX + name.upper()
            for name in ("client_id", "client_secret", "org_id")
            if getattr(self, name) is None
        ]
        if missing:
            raise ConfigurationError(
                f"set {', '.join(missing)} (or the matching *_FILE variables) before running"
            )


class _GivenSettings(Settings):
    """Settings from an explicit mapping only: neither the process environment nor ``.env``."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given to the constructor."""
        return (init_settings,)


def _file_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """Read every ``DATAFLOW_<NAME>_FILE`` into the value of ``<name>``."""
    values: dict[str, str] = {}
    for key, path in environ.items():
        if not (key.startswith(PREFIX) and key.endswith("_FILE")):
            continue
        name = key[len(PREFIX) : -len("_FILE")].lower()
        try:
            values[name] = Path(path).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigurationError(f"{key}: cannot read {path}: {error.strerror}") from None
    return values


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from the environment, ``*_FILE`` files and explicit overrides.

    Given a mapping, the settings come from it (and ``overrides``) alone: the process environment
    and any ``.env`` file are not read, so tests and embedded uses are isolated from the shell.
    """
    explicit: dict[str, str] = {}
    if environ is None:
        environ = os.environ
    else:  # an explicit mapping wins over the process environment (tests, embedded use)
        explicit = {
            key[len(PREFIX) :].lower(): value
            for key, value in environ.items()
            if key.startswith(PREFIX) and not key.endswith("_FILE")
        }
    try:
        values = {**explicit, **_file_overrides(environ), **overrides}
        return Settings(**values) if environ is os.environ else _GivenSettings(**values)
    except ValidationError as error:
        first = error.errors()[0]
        name = PREFIX + ".".join(str(part) for part in first["loc"]).upper()
        # A validator's own message reads better without pydantic's "Value error, " prefix.
        cause = first.get("ctx", {}).get("error") if first["type"] == "value_error" else None
        raise ConfigurationError(f"{name}: {cause or first['msg']}") from None

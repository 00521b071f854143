"""Settings come from the environment, *_FILE files and overrides, with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.config import load_settings
from worker.errors import ConfigurationError


def test_defaults_follow_the_contract() -> None:
    settings = load_settings({})
    assert settings.broker_url == "amqp://guest:guest@localhost:5672//"
    assert settings.state_url == "sqlite:///dataflow-state.db"
    assert settings.concurrency == 16
    assert settings.sandbox == "prod"
    assert settings.metrics_addr == "127.0.0.1:9464"
    assert settings.follow_runs is False


def test_a_file_variable_supplies_a_secret(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    settings = load_settings({"DATAFLOW_CLIENT_SECRET_FILE": str(secret)})
    assert settings.client_secret is not None
    assert settings.client_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_an_unreadable_file_variable_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="DATAFLOW_CLIENT_SECRET_FILE"):
        load_settings({"DATAFLOW_CLIENT_SECRET_FILE": str(tmp_path / "missing")})


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_CONCURRENCY", "zero")
    with pytest.raises(ConfigurationError, match="DATAFLOW_CONCURRENCY"):
        load_settings()


def test_run_requires_credentials() -> None:
    with pytest.raises(ConfigurationError, match="DATAFLOW_CLIENT_ID"):
        load_settings({}).require_credentials()


@pytest.mark.parametrize(
    ("variable", "url", "message"),
    [
        ("DATAFLOW_BROKER_URL", "rabbit://u:hunter2@h//", "unsupported scheme 'rabbit': use amqp://"),
        ("DATAFLOW_BROKER_URL", "http://u:hunter2@h:15672", "unsupported scheme 'http': use amqp://"),
        ("DATAFLOW_BROKER_URL", "localhost", "not a URL (no scheme): use amqp://"),
        ("DATAFLOW_STATE_URL", "mysql://u:hunter2@h/db", "unsupported scheme 'mysql': use sqlite:///"),
        ("DATAFLOW_STATE_URL", "sqlite://state.db", "a SQLite ledger is sqlite:///PATH"),
        ("DATAFLOW_STATE_URL", "sqlite:///", "a SQLite ledger is sqlite:///PATH"),
    ],
)  # fmt: skip
def test_a_url_with_a_scheme_that_cannot_work_is_refused_without_repeating_the_url(
    variable: str, url: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({variable: url})
    assert str(raised.value).startswith(f"{variable}: {message}")
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("DATAFLOW_BROKER_URL", "amqp://guest:guest@localhost:5672//"),
        ("DATAFLOW_BROKER_URL", "amqps://u:p@rabbit.example:5671/prod"),
        ("DATAFLOW_BROKER_URL", "memory://"),
        ("DATAFLOW_STATE_URL", "sqlite:///dataflow-state.db"),
        ("DATAFLOW_STATE_URL", "sqlite:////var/lib/dataflow/state.db"),
        ("DATAFLOW_STATE_URL", "postgresql://worker@db/dataflow"),
        ("DATAFLOW_STATE_URL", "postgres://worker@db/dataflow"),
    ],
)  # fmt: skip
def test_the_supported_url_schemes_are_accepted(variable: str, url: str) -> None:
    settings = load_settings({variable: url})
    assert url in (settings.broker_url, settings.state_url)


def test_settings_given_as_a_mapping_read_nothing_else(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATAFLOW_CONCURRENCY", "3")
    monkeypatch.setenv("DATAFLOW_SANDBOX", "from-the-shell")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DATAFLOW_LOG_LEVEL=debug\nDATAFLOW_TOPOLOGY_PREFIX=dotenv\n")
    settings = load_settings({"DATAFLOW_CONCURRENCY": "4"})
    assert settings.concurrency == 4
    assert (settings.sandbox, settings.log_level, settings.topology_prefix) == (
        "prod",
        "info",
        "dataflow",
    )
    from_the_environment = load_settings()
    assert (from_the_environment.concurrency, from_the_environment.sandbox) == (3, "from-the-shell")
    assert from_the_environment.topology_prefix == "dotenv"

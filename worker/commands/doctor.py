"""``dataflow-worker doctor``: can this worker reach what it needs, with the current settings?

Four checks, one line each: the broker (a connection), the ledger (opened and read; a SQLite
file that does not exist yet is not created, only its folder checked), IMS (a token for the
credentials) and the Platform (one authenticated read in the sandbox). Each line
says ``ok`` with what was reached, or ``FAILED`` with what is wrong; the Platform is ``skipped``
when IMS gave no token. Exit 1 when any check failed. URLs are shown without passwords.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import click

from worker.broker.connection import broker_errors, connect
from worker.config import BrokerTarget, Settings, load_settings
from worker.errors import DataflowError
from worker.ledger import open_ledger
from worker.observability.logs import configure_logging
from worker.onboarding.introspect import redact
from worker.platform import open_platform_client

CHECK_TIMEOUT_SECONDS = 10.0
Outcome = Literal["ok", "FAILED", "skipped"]


@dataclass(frozen=True)
class Check:
    """The outcome of one check and what it found."""

    name: str
    outcome: Outcome
    detail: str

    def line(self) -> str:
        """``broker    ok       connected to amqp://guest:***@localhost:5672//``."""
        return f"{self.name:<9} {self.outcome:<8} {self.detail}"


def check_broker(target: BrokerTarget) -> Check:
    """Connect to the broker once (verified TLS for amqps://, as the worker would)."""
    url = target.url
    try:
        with broker_errors(f"cannot connect to {redact(url)}"):
            connection = connect(target)
            try:
                connection.ensure_connection(max_retries=1)
            finally:
                connection.release()
    except DataflowError as error:
        return Check("broker", "FAILED", str(error))
    return Check("broker", "ok", f"connected to {redact(url)}")


def check_ledger(url: str) -> Check:
    """Open the ledger (upgrading its tables) and read from it; create no new SQLite file."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) != ":memory:" and not path.exists():
            return _new_sqlite_ledger(url, path)
    try:
        ledger = open_ledger(url)
        try:
            ledger.get("doctor-probe")
        finally:
            ledger.close()
    except DataflowError as error:
        return Check("ledger", "FAILED", f"{redact(url)}: {error}")
    return Check("ledger", "ok", f"opened and read {redact(url)}")


def _new_sqlite_ledger(url: str, path: Path) -> Check:
    """A SQLite ledger that does not exist yet: fine if the worker can create it."""
    folder = path.parent if str(path.parent) else Path(".")
    if folder.is_dir() and os.access(folder, os.W_OK):
        return Check("ledger", "ok", f"{url} does not exist yet; the worker will create it")
    return Check("ledger", "FAILED", f"{url}: cannot create it, {folder} is not a writable folder")


async def check_platform(settings: Settings) -> tuple[Check, Check]:
    """A token from IMS, then one authenticated Platform read (a page of flow specs)."""
    skipped = Check("platform", "skipped", "it needs a token from IMS")
    try:
        settings.require_credentials()
        async with open_platform_client(settings) as client:
            await client.authenticate()
            ims = Check("ims", "ok", f"token from {settings.ims_url} for {settings.client_id}")
            try:
                await client.probe(settings.sandbox)
            except DataflowError as error:
                return ims, Check("platform", "FAILED", str(error))
    except DataflowError as error:  # credentials missing or refused, IMS unreachable
        return Check("ims", "FAILED", str(error)), skipped
    where = f"{settings.platform_url} (sandbox {settings.sandbox})"
    return ims, Check("platform", "ok", f"answered at {where}")


@click.command()
def doctor() -> None:
    """Check the broker, the ledger, IMS and the Platform with the current settings.

    One line per check says what was reached or what is wrong (URLs without passwords). The
    checks wait at most 10 s each. Exit 1 when any check failed.

    \b
    Example:
      DATAFLOW_PLATFORM_URL=http://127.0.0.1:8080 DATAFLOW_IMS_URL=http://127.0.0.1:8080 \\
      DATAFLOW_CLIENT_ID=me DATAFLOW_CLIENT_SECRET=s DATAFLOW_ORG_ID=ME@AdobeOrg \\
      dataflow-worker doctor
    """
    settings = load_settings()
    quick = settings.model_copy(
        update={"http_timeout_seconds": min(settings.http_timeout_seconds, CHECK_TIMEOUT_SECONDS)}
    )
    secrets = [s.get_secret_value() for s in (settings.client_secret,) if s is not None]
    configure_logging("console", "error", secrets=secrets)
    checks = [
        check_broker(settings.broker()),
        check_ledger(settings.state_url),
        *asyncio.run(check_platform(quick)),
    ]
    for check in checks:
        click.echo(check.line())
    if any(check.outcome == "FAILED" for check in checks):
        raise SystemExit(1)

"""``dataflow-worker emulator``: serve the local Platform emulator (contract sections 4 and 7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from emulator.app import DEFAULT_TOKEN_TTL, EmulatorConfig
from emulator.faults import FaultSettingsError, parse_faults
from emulator.persist import StateFileError
from emulator.server import RemoteBindError, check_host, serve


def _load_faults(value: str | None) -> dict[str, Any]:
    """The fault settings from ``--fault-json``: inline JSON, or the path of a JSON file."""
    if not value:
        return {}
    text = value if value.lstrip().startswith("{") else _read(value)
    try:
        faults = json.loads(text)
        parse_faults(faults)
    except (ValueError, FaultSettingsError) as error:
        raise click.BadParameter(str(error), param_hint="--fault-json") from None
    if not isinstance(faults, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--fault-json")
    return faults


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        message = f"not JSON and not a readable file: {error.strerror or error}"
        raise click.BadParameter(message, param_hint="--fault-json") from None


def _clients(values: tuple[str, ...]) -> dict[str, str] | None:
    """``ID:SECRET`` pairs; None (accept any credentials) when none are given."""
    if not values:
        return None
    clients: dict[str, str] = {}
    for value in values:
        client_id, sep, secret = value.partition(":")
        if not sep or not client_id or not secret:
            raise click.BadParameter(f"{value!r} is not ID:SECRET", param_hint="--client")
        clients[client_id] = secret
    return clients


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: a free one; the URL is printed).",
)
@click.option(
    "--latency-ms",
    default=0.0,
    type=click.FloatRange(min=0),
    help="Delay added to every Platform response.",
)
@click.option(
    "--fault-json",
    metavar="JSON-or-FILE",
    help=(
        "Initial fault settings, inline JSON or a JSON file: seed, latency_ms, errors, throttle,"
        " rate_limit_rps, commit_then_drop, run_failure_rate, paths (docs/emulator.md,"
        " 'The control surface'); POST /__emulator/faults changes them later."
    ),
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="ID:SECRET",
    help="Restrict IMS to these credentials (repeatable).",
)
@click.option(
    "--sandbox",
    "sandboxes",
    multiple=True,
    metavar="NAME",
    help="A sandbox besides prod (repeatable).",
)
@click.option(
    "--token-ttl",
    default=DEFAULT_TOKEN_TTL,
    show_default=True,
    type=click.IntRange(min=1),
    help="Lifetime of IMS tokens in seconds (short values exercise renewal).",
)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Load resources from this file at start (if it exists); save them on a graceful stop.",
)
@click.option("--allow-remote", is_flag=True, help="Allow listening on a non-loopback address.")
def emulator(
    host: str,
    port: int,
    latency_ms: float,
    fault_json: str | None,
    clients: tuple[str, ...],
    sandboxes: tuple[str, ...],
    token_ttl: int,
    state_file: Path | None,
    allow_remote: bool,
) -> None:
    """Serve the local Platform emulator: IMS, Flow Service, Schema Registry, Catalog, Data Prep.

    The Platform's paths answer as the real services do; /__emulator/ is the control surface
    (resources, requests, faults, clock, reset). Point the worker at it with
    DATAFLOW_PLATFORM_URL and DATAFLOW_IMS_URL set to the printed URL.

    \b
    Examples:
      dataflow-worker emulator --port 8080
      dataflow-worker emulator --fault-json '{"errors": {"503": 0.1}, "throttle": {"rate": 0.05}}'
    """
    try:
        check_host(host, allow_remote)
    except RemoteBindError as error:
        raise click.UsageError(str(error)) from None
    config = EmulatorConfig(
        clients=_clients(clients),
        sandboxes=tuple(s.lower() for s in sandboxes),
        token_ttl=token_ttl,
        latency_ms=latency_ms,
        faults=_load_faults(fault_json),
    )

    def ready(url: str) -> None:
        """Print the URL once the socket is bound."""
        click.echo(f"emulator listening on {url} (control: {url}/__emulator/resources)")

    try:
        serve(config, host, port, allow_remote=allow_remote, on_ready=ready, state_file=state_file)
    except StateFileError as error:
        raise click.UsageError(str(error)) from None
    except OSError as error:
        raise click.UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None

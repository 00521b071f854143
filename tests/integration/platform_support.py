"""Shared helpers of the Platform client tests: a client of the emulator, a whole dataflow, logs."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from structlog.testing import capture_logs
from structlog.typing import EventDict

from emulator.testing import Emulator
from messages.models import DataflowRequested
from worker.cli import cli
from worker.config import load_settings
from worker.observability.logs import captured_logs
from worker.platform import PlatformClient, bodies, open_platform_client
from worker.platform.dataprep import MappingSetRef

# What a log line of the client must never hold: the emulator's secrets, tokens, header names.
FORBIDDEN_IN_LOGS = ("emulator-test-secret", "wrong-secret", "Bearer", "emu-", "client_secret")


def client_for(
    emu: Emulator,
    *,
    secret: str | None = None,
    http: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
    **overrides: Any,
) -> PlatformClient:
    """A client of the emulator's Platform and IMS with its credentials (or another secret).

    Open it in the test's event loop (``async with client_for(emu) as client``).
    """
    settings = load_settings(
        {},
        client_id=emu.client_id,
        client_secret=secret or emu.client_secret,
        org_id=emu.org,
        platform_url=emu.url,
        ims_url=emu.url,
        **overrides,
    )
    return open_platform_client(settings, http_transport=http, clock=clock)


@contextmanager
def no_secrets_logged(caplog: pytest.LogCaptureFixture) -> Iterator[list[EventDict]]:
    """Capture every structlog event and stdlib record of the block; none may hold a credential."""
    caplog.set_level(logging.DEBUG)
    with capture_logs() as events:
        yield events
    text = repr(events) + "\n".join(record.getMessage() for record in caplog.records)
    for forbidden in FORBIDDEN_IN_LOGS:
        assert forbidden not in text


def dataflow_request(name: str, base_connection_id: str, **changes: Any) -> DataflowRequested:
    """A MariaDB table request in auto mode, named ``name``."""
    data: dict[str, Any] = {
        "request_id": f"r-{uuid.uuid4().hex[:12]}",
        "name": name,
        "source": {
            "connector": "mariadb",
            "base_connection_id": base_connection_id,
            "table": "crm.customers",
            "columns": [
                {"name": "id", "type": "int", "xdm": {"type": "integer"}, "meta_xdm_type": "int"},
                {"name": "first-name", "type": "varchar", "xdm": {"type": "string"}},
                {
                    "name": "updated",
                    "type": "datetime",
                    "xdm": {"type": "string", "format": "date-time"},
                },
            ],
        },
        "mapping_mode": "auto",
        "delta_column": {"name": "updated"},
        "schedule": {"frequency": "minute", "interval": 15, "start_time": 1764400000},
    }
    data.update(changes)
    return DataflowRequested.model_validate(data)


@dataclass(frozen=True)
class CreatedDataflow:
    """The ids of every resource ``create_dataflow`` created (``group`` only in auto mode)."""

    spec: dict[str, Any]
    tenant: str
    source: str
    group: str | None
    schema: str
    dataset: str
    target: str
    mapping: MappingSetRef
    flow: str


async def create_dataflow(client: PlatformClient, request: DataflowRequested) -> CreatedDataflow:
    """Every resource of a dataflow in the worker's order, ending with the flow."""
    spec = await client.flow_spec(None, request.flow_spec_name, request.source.connection_spec_id)
    tenant = await client.tenant_id(None)
    source = await client.create_source_connection(None, bodies.source_connection_body(request))
    group = None
    if request.mapping_mode == "auto":
        group = await client.create_field_group(None, bodies.field_group_body(request, tenant))
    schema = await client.create_schema(None, bodies.schema_body(request, group))
    dataset = await client.create_dataset(None, bodies.dataset_body(request, schema))
    target_body = bodies.target_connection_body(request, schema, dataset)
    target = await client.create_target_connection(None, target_body)
    mapping_body = bodies.mapping_set_body(request, schema, tenant)
    mapping = await client.create_mapping_set(None, mapping_body)
    flow_body = bodies.flow_body(
        request,
        flow_spec_id=spec["id"],
        source_connection_id=source,
        target_connection_id=target,
        mapping_id=mapping.id,
        mapping_version=mapping.version,
    )
    flow = await client.create_flow(None, flow_body)
    return CreatedDataflow(spec, tenant, source, group, schema, dataset, target, mapping, flow)


def created_dataflow(emu: Emulator, request: DataflowRequested) -> CreatedDataflow:
    """`create_dataflow` through a client of ``emu``, for synchronous tests (its own loop)."""

    async def create() -> CreatedDataflow:
        async with client_for(emu) as client:
            return await create_dataflow(client, request)

    return asyncio.run(create())


def emulator_env(emu: Emulator, **settings: str) -> dict[str, str]:
    """The ``DATAFLOW_*`` variables of a command that talks to ``emu`` with its credentials."""
    env = {
        "DATAFLOW_PLATFORM_URL": emu.url,
        "DATAFLOW_IMS_URL": emu.url,
        "DATAFLOW_CLIENT_ID": emu.client_id,
        "DATAFLOW_CLIENT_SECRET": emu.client_secret,
        "DATAFLOW_ORG_ID": emu.org,
    }
    env.update({f"DATAFLOW_{key.upper()}": value for key, value in settings.items()})
    return env


def run_command(args: list[str], env: dict[str, str]) -> Result:
    """Run ``dataflow-worker ARGS`` in-process; the logging it configures is undone after."""
    with captured_logs("error"):
        return CliRunner().invoke(cli, args, env=env)

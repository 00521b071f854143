"""Assemble the emulator: every service's routes behind the gateway, faults and request log."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from emulator.errors import GatewayError, ServiceError, handle_gateway_error, handle_service_error
from emulator.state import Store

#: The modules that serve the Platform's APIs; each exposes ``routes() -> list[BaseRoute]``.
SERVICE_MODULES = (
    "emulator.ims",
    "emulator.control",
    "emulator.flowservice",
    "emulator.schemaregistry",
    "emulator.catalog",
    "emulator.dataprep",
)

DEFAULT_TOKEN_TTL = 86399


@dataclass(frozen=True)
class EmulatorConfig:
    """How one emulator behaves: credentials, sandboxes, token lifetime, initial faults."""

    clients: dict[str, str] | None = None  # None: any non-empty id and secret
    sandboxes: tuple[str, ...] = ()
    token_ttl: int = DEFAULT_TOKEN_TTL
    latency_ms: float = 0
    faults: dict[str, Any] = field(default_factory=dict)
    request_log_size: int = 1000


def _service_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for name in SERVICE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            # A service still being written is left out rather than breaking the others.
            if error.name == name:
                continue
            raise
        factory: Callable[[], list[BaseRoute]] = module.routes
        routes.extend(factory())
    return routes


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A new emulator app with its own empty store."""
    config = config or EmulatorConfig()
    app = Starlette(
        routes=_service_routes(),
        exception_handlers={
            ServiceError: handle_service_error,
            GatewayError: handle_gateway_error,
        },
    )
    app.state.emulator = Store(sandboxes=config.sandboxes)
    app.state.config = config
    return app

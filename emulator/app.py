"""Assemble the emulator: every service's routes behind the request log, faults and gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from emulator import catalog, control, dataprep, flowservice, ims, schemaregistry
from emulator.control import RequestLog, RequestLogMiddleware
from emulator.errors import (
    GatewayError,
    ServiceError,
    handle_gateway_error,
    handle_http_error,
    handle_service_error,
)
from emulator.faults import Faults, FaultsMiddleware
from emulator.gateway import GatewayMiddleware
from emulator.ims import TokenStore
from emulator.state import Store

#: The modules that serve the Platform's APIs; each exposes ``routes() -> list[BaseRoute]``.
SERVICES = (ims, control, flowservice, schemaregistry, catalog, dataprep)

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

    def initial_faults(self) -> dict[str, Any]:
        """The fault settings at start: ``faults``, with ``latency_ms`` unless they set one."""
        if self.latency_ms and "latency_ms" not in self.faults:
            return {**self.faults, "latency_ms": self.latency_ms}
        return dict(self.faults)


def _service_routes() -> list[BaseRoute]:
    return [route for service in SERVICES for route in service.routes()]


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A new emulator app with its own empty store; raises ValueError for invalid faults."""
    config = config or EmulatorConfig()
    app = Starlette(
        routes=_service_routes(),
        middleware=[
            Middleware(RequestLogMiddleware),
            Middleware(FaultsMiddleware),
            Middleware(GatewayMiddleware),
        ],
        exception_handlers={
            404: handle_http_error,
            405: handle_http_error,
            ServiceError: handle_service_error,
            GatewayError: handle_gateway_error,
        },
    )
    app.router.redirect_slashes = False  # no service redirects; gateway.canonical_path decides
    store = Store(sandboxes=config.sandboxes)
    app.state.emulator = store
    app.state.config = config
    app.state.tokens = TokenStore(store.clock, config.token_ttl, config.clients)
    app.state.faults = Faults(config.initial_faults())
    app.state.requests = RequestLog(config.request_log_size)
    return app

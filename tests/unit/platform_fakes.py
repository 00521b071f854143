"""Shared pieces of the Platform client's unit tests: a client whose HTTP is answered in-process."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from starlette.types import ASGIApp

from worker.config import load_settings
from worker.platform import PlatformClient, open_platform_client
from worker.platform.client import ClientMetrics

Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]
)
CLIENT_ID = "id-1"
CLIENT_SECRET = "shh-secret"
ORG_ID = "ORG@AdobeOrg"
IMS_URL = "https://ims.test"


def mock_client(
    handler: Handler,
    *,
    metrics: ClientMetrics | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PlatformClient:
    """A client of fake IMS and Platform hosts; ``handler`` answers every request of both."""
    return client_over(httpx.MockTransport(handler), metrics=metrics, clock=clock)


def emulated_client(app: ASGIApp, *, metrics: ClientMetrics | None = None) -> PlatformClient:
    """A client whose IMS and Platform are an emulator app (`emulator.app.create_app`) served
    in-process: the emulator's own handlers answer, with no socket in between."""
    return client_over(httpx.ASGITransport(app=app), metrics=metrics)


def client_over(
    http: httpx.AsyncBaseTransport,
    *,
    metrics: ClientMetrics | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PlatformClient:
    """A client of the IMS and Platform hosts behind ``http``, with fixed test credentials."""
    settings = load_settings(
        {},
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        org_id=ORG_ID,
        platform_url="https://platform.test",
        ims_url=IMS_URL,
    )
    return open_platform_client(settings, metrics=metrics, http_transport=http, clock=clock)

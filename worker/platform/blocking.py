"""A temporary blocking face of the async Platform client, for the thread-based engine.

`BlockingPlatformClient` runs one event loop in a daemon thread, opens the async client in that
loop, and offers every `PlatformClient` operation under the same name and arguments as a plain
call that blocks the calling thread until the coroutine is done in the loop. Many threads may
call at once; their requests share the loop, the token and the connection pool. Each call runs
with a copy of the caller's context variables, so log lines keep the request's bound context.

It goes away once the engine runs on one event loop itself (issue 9).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from worker.config import Settings
from worker.platform.client import PlatformClient, open_platform_client
from worker.platform.http import PlatformMetrics

P = ParamSpec("P")
R = TypeVar("R")
Json = dict[str, Any]


def _blocking(
    operation: Callable[Concatenate[PlatformClient, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[BlockingPlatformClient, P], R]:
    """The operation as a method that runs it in the bridge's loop and waits for its result."""

    def call(self: BlockingPlatformClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.run(operation(self.client, *args, **kwargs))

    call.__name__ = operation.__name__
    call.__doc__ = operation.__doc__
    return call


class BlockingPlatformClient:
    """Every `PlatformClient` operation, callable from any thread; `close()` when done."""

    def __init__(self, open_client: Callable[[], Coroutine[Any, Any, PlatformClient]]) -> None:
        """Start the loop thread and open the client in it with ``open_client()``."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="platform-loop", daemon=True
        )
        self._thread.start()
        self._closed = False
        try:
            self.client: PlatformClient = self.run(open_client())
        except BaseException:
            self._stop()
            raise

    def run(self, coroutine: Coroutine[Any, Any, R]) -> R:
        """Run ``coroutine`` in the bridge's loop, in the caller's context; wait for its result."""
        if self._closed:
            coroutine.close()
            raise RuntimeError("the Platform client is closed")
        done: concurrent.futures.Future[R] = concurrent.futures.Future()
        context = contextvars.copy_context()

        def start() -> None:
            task = self._loop.create_task(coroutine, context=context)
            task.add_done_callback(lambda finished: _settle(done, finished))

        self._loop.call_soon_threadsafe(start)
        return done.result()

    def close(self) -> None:
        """Close the client's connections, then stop the loop and its thread."""
        if self._closed:
            return
        try:
            self.run(self.client.aclose())
        finally:
            self._stop()

    def _stop(self) -> None:
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> BlockingPlatformClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    authenticate = _blocking(PlatformClient.authenticate)
    probe = _blocking(PlatformClient.probe)
    create_source_connection = _blocking(PlatformClient.create_source_connection)
    get_source_connection = _blocking(PlatformClient.get_source_connection)
    find_source_connection = _blocking(PlatformClient.find_source_connection)
    delete_source_connection = _blocking(PlatformClient.delete_source_connection)
    create_target_connection = _blocking(PlatformClient.create_target_connection)
    get_target_connection = _blocking(PlatformClient.get_target_connection)
    find_target_connection = _blocking(PlatformClient.find_target_connection)
    delete_target_connection = _blocking(PlatformClient.delete_target_connection)
    create_flow = _blocking(PlatformClient.create_flow)
    get_flow = _blocking(PlatformClient.get_flow)
    find_flow = _blocking(PlatformClient.find_flow)
    delete_flow = _blocking(PlatformClient.delete_flow)
    get_base_connection = _blocking(PlatformClient.get_base_connection)
    create_base_connection = _blocking(PlatformClient.create_base_connection)
    base_connections = _blocking(PlatformClient.base_connections)
    flow_spec = _blocking(PlatformClient.flow_spec)
    runs = _blocking(PlatformClient.runs)
    tenant_id = _blocking(PlatformClient.tenant_id)
    create_field_group = _blocking(PlatformClient.create_field_group)
    get_field_group = _blocking(PlatformClient.get_field_group)
    find_field_group = _blocking(PlatformClient.find_field_group)
    delete_field_group = _blocking(PlatformClient.delete_field_group)
    create_schema = _blocking(PlatformClient.create_schema)
    get_schema = _blocking(PlatformClient.get_schema)
    find_schema = _blocking(PlatformClient.find_schema)
    delete_schema = _blocking(PlatformClient.delete_schema)
    create_dataset = _blocking(PlatformClient.create_dataset)
    get_dataset = _blocking(PlatformClient.get_dataset)
    find_dataset = _blocking(PlatformClient.find_dataset)
    delete_dataset = _blocking(PlatformClient.delete_dataset)
    create_mapping_set = _blocking(PlatformClient.create_mapping_set)
    get_mapping_set = _blocking(PlatformClient.get_mapping_set)
    recent_mapping_sets = _blocking(PlatformClient.recent_mapping_sets)
    find_mapping_set = _blocking(PlatformClient.find_mapping_set)


def _settle(done: concurrent.futures.Future[R], task: asyncio.Future[R]) -> None:
    """Hand a finished task's outcome to the waiting thread."""
    if task.cancelled():
        done.cancel()
    elif (error := task.exception()) is not None:
        done.set_exception(error)
    else:
        done.set_result(task.result())


def open_blocking_client(
    settings: Settings, *, metrics: PlatformMetrics | None = None
) -> BlockingPlatformClient:
    """The process's client for thread-based callers, built from the settings."""

    async def open_client() -> PlatformClient:
        return open_platform_client(settings, metrics=metrics)

    return BlockingPlatformClient(open_client)

"""CPU per Platform call: our transport against httpx's own, side by side in one run.

The emulator runs as a child process (``emulator.testing.emulator_process``), so its work is
not counted: the figure is this process's CPU time (every thread) per call, over a few thousand
authenticated GETs of one base connection, with 32 and with 1 request in flight. The rows:

* ``lean``: ``httpx.AsyncClient`` on `worker.platform.wire.LeanTransport` (asyncio protocol,
  httptools parsing), as the Platform client uses it;
* ``httpx async``: ``httpx.AsyncClient`` with its default transport (httpcore on anyio);
* ``httpx sync``: one ``httpx.Client`` shared by as many threads as requests in flight (the
  thread engine's way before the transport changed);
* ``PlatformClient``: the worker's whole client (session, logging, metrics, error mapping) on
  the lean transport, calling ``get_base_connection``.

Target (docs/adr/0009-platform-transport.md): lean <= 0.2 ms per call at 32 in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from emulator.testing import FLOWSERVICE, MARIADB_SPEC_ID, Emulator, emulator_process
from tests.integration.platform_support import client_for
from worker.observability.logs import captured_logs
from worker.platform.http import build_http_client

CALLS = 3000
WARM_UP = 200
IN_FLIGHT = (32, 1)


async def _async_ms(call: Callable[[], Awaitable[object]], calls: int, in_flight: int) -> float:
    """CPU ms per call of ``calls`` awaited calls, ``in_flight`` at a time."""

    async def lane(count: int) -> None:
        for _ in range(count):
            await call()

    await asyncio.gather(*(lane(WARM_UP // in_flight or 1) for _ in range(in_flight)))
    started = time.process_time()
    await asyncio.gather(*(lane(calls // in_flight) for _ in range(in_flight)))
    return (time.process_time() - started) * 1000 / (calls // in_flight * in_flight)


def _threaded_ms(call: Callable[[], object], calls: int, in_flight: int) -> float:
    """CPU ms per call of ``calls`` blocking calls from ``in_flight`` threads."""

    def lane(count: int) -> None:
        for _ in range(count):
            call()

    with ThreadPoolExecutor(in_flight) as pool:
        list(pool.map(lane, [WARM_UP // in_flight or 1] * in_flight))
        started = time.process_time()
        list(pool.map(lane, [calls // in_flight] * in_flight))
        return (time.process_time() - started) * 1000 / (calls // in_flight * in_flight)


async def _lean(url: str, headers: dict[str, str], in_flight: int) -> float:
    async with build_http_client(timeout_seconds=30, pool_size=64, proxies={}) as http:
        return await _async_ms(lambda: _get(http, url, headers), CALLS, in_flight)


async def _httpx_async(url: str, headers: dict[str, str], in_flight: int) -> float:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as http:
        return await _async_ms(lambda: _get(http, url, headers), CALLS, in_flight)


def _httpx_sync(url: str, headers: dict[str, str], in_flight: int) -> float:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    with httpx.Client(timeout=30, limits=limits, trust_env=False) as http:
        return _threaded_ms(
            lambda: http.get(url, headers=headers).raise_for_status(), CALLS, in_flight
        )


async def _platform_client(emu: Emulator, base_id: str, in_flight: int) -> float:
    async with client_for(emu, concurrency=32) as client:
        return await _async_ms(lambda: client.get_base_connection(None, base_id), CALLS, in_flight)


async def _get(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
    (await http.get(url, headers=headers)).raise_for_status()


def main() -> None:
    """Print CPU ms per call for each transport, at 32 and at 1 request in flight."""
    # The worker's log pipeline at its default level: answered calls log at debug, dropped.
    with captured_logs("info"), emulator_process() as emu:
        base_id = emu.create_base_connection(MARIADB_SPEC_ID)
        url = f"{emu.url}{FLOWSERVICE}/connections/{base_id}"
        headers = emu.headers()
        rows: dict[str, Callable[[int], float]] = {
            "lean (AsyncClient + LeanTransport)": lambda n: asyncio.run(_lean(url, headers, n)),
            "httpx async (httpcore + anyio)": lambda n: asyncio.run(_httpx_async(url, headers, n)),
            "httpx sync (Client, one thread each)": lambda n: _httpx_sync(url, headers, n),
            "PlatformClient on lean": lambda n: asyncio.run(_platform_client(emu, base_id, n)),
        }
        print(f"CPU ms per GET ({CALLS} calls; the emulator is a child process, not counted)")
        print(f"{'transport':<40}" + "".join(f"{f'{n} in flight':>14}" for n in IN_FLIGHT))
        for label, run in rows.items():
            figures = [run(n) for n in IN_FLIGHT]
            print(f"{label:<40}" + "".join(f"{ms:>14.3f}" for ms in figures))
    print("target: lean <= 0.2 ms per call at 32 in flight")


if __name__ == "__main__":
    main()

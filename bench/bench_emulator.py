"""Emulator throughput: requests per second with 32 concurrent clients, at 0 ms and 50 ms latency.

The emulator runs in its own process (``dataflow-worker emulator --port 0``), as in real use.
The clients are 32 asyncio tasks, each with its own keep-alive connection, sending authenticated
``GET /flows?limit=1`` requests. They speak minimal HTTP/1.1 over asyncio streams, because a full
client library costs more CPU per request than the emulator does and would measure itself.
With 50 ms injected latency the ideal is 32 / 0.05 s = 640 per second; the report gives the
achieved share of it (target >= 0.9). Last, the time of a lookup by name (in process) among
10 and among 50,000 base connections, which the name index keeps flat.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import httpx

from emulator.app import create_app
from emulator.state import CONNECTIONS, Scope, Store
from emulator.testing import FLOWSERVICE, emulator_process

CLIENTS = 32
SECONDS = 5.0
LATENCY_MS = 50


async def _client(url: str, headers: dict[str, str], deadline: float) -> tuple[int, int]:
    """One client: a keep-alive connection sending requests back to back until the deadline."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    lines = [f"GET {FLOWSERVICE}/flows?limit=1 HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    done = failed = 0
    while time.monotonic() < deadline:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(_content_length(head))
        if head.startswith(b"HTTP/1.1 200"):
            done += 1
        else:
            failed += 1
    writer.close()
    await writer.wait_closed()
    return done, failed


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def _measure(url: str, headers: dict[str, str], seconds: float) -> tuple[float, int]:
    started = time.monotonic()
    deadline = started + seconds
    results = await asyncio.gather(*(_client(url, headers, deadline) for _ in range(CLIENTS)))
    elapsed = time.monotonic() - started
    done = sum(ok for ok, _ in results)
    failed = sum(bad for _, bad in results)
    return done / elapsed, failed


def _lookup_ms(resources: int, lookups: int = 200) -> float:
    """Mean time of ``GET /connections?property=name==X`` (in process) among ``resources``."""
    app = create_app()
    store: Store = app.state.emulator
    scope = Scope("BENCH@AdobeOrg", "prod")
    coll = store.collection(scope, CONNECTIONS)
    for number in range(resources):
        coll.add(f"id-{number}", {"id": f"id-{number}", "name": f"connection {number}"})

    async def run() -> float:
        """The timed lookups, through an in-process ASGI transport."""
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            form = {"grant_type": "client_credentials", "client_id": "b", "client_secret": "s"}
            token = (await client.post("/ims/token/v3", data=form)).json()["access_token"]
            client.headers.update(
                {
                    "Authorization": f"Bearer {token}",
                    "x-api-key": "b",
                    "x-gw-ims-org-id": scope.org,
                    "x-sandbox-name": scope.sandbox,
                }
            )
            started = time.perf_counter()
            for number in range(lookups):
                name = f"connection {number * 97 % resources}"
                params = {"property": f'name=="{name}"'}
                found = await client.get(f"{FLOWSERVICE}/connections", params=params)
                assert len(found.json()["items"]) == 1
            return (time.perf_counter() - started) / lookups * 1000

    return asyncio.run(run())


def main() -> None:
    """Print requests per second at 0 ms and at 50 ms latency, and the share of the ideal."""
    with emulator_process() as emu:
        emu.create_base_connection()
        headers = {k: v for k, v in emu.headers().items() if k != "Content-Type"}
        rate0, failed0 = asyncio.run(_measure(emu.url, headers, SECONDS))
        print(f"0 ms latency, {CLIENTS} clients: {rate0:,.0f} requests/s ({failed0} failed)")
        emu.set_faults({"latency_ms": LATENCY_MS})
        rate50, failed50 = asyncio.run(_measure(emu.url, headers, SECONDS))
        ideal = CLIENTS / (LATENCY_MS / 1000)
        print(
            f"{LATENCY_MS} ms latency, {CLIENTS} clients: {rate50:,.0f} requests/s "
            f"({failed50} failed); {rate50 / ideal:.2f} of the ideal {ideal:.0f}/s (target >= 0.9)"
        )
    for resources in (10, 50_000):
        print(f"name lookup among {resources:,} connections: {_lookup_ms(resources):.2f} ms")


if __name__ == "__main__":
    main()

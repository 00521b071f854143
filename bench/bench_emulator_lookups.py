"""Emulator lookups with tens of thousands of resources: do exact-name finds stay flat?

The app runs in-process (httpx's ASGI transport, no sockets, so the numbers are the handlers'
own cost). It is filled to 1,000 and then to 20,000 schemas and datasets through the API, and
at each size the lookups the worker makes are timed (median of 200): a schema by exact title,
a schema by ``meta:altId``, a dataset by exact name, a dataset by id, and a mapping set
creation (which checks every destination against the schema). Flat medians mean indexed
lookups; a linear scan would grow twentyfold.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx

from emulator.app import create_app

SIZES = (1_000, 20_000)
SAMPLES = 200
REGISTRY = "/data/foundation/schemaregistry"
CATALOG = "/data/foundation/catalog"
CONVERSION = "/data/foundation/conversion"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
PERSON = "https://ns.adobe.com/xdm/context/profile-person-details"


async def _headers(http: httpx.AsyncClient) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": "bench", "client_secret": "bench"}
    token = (await http.post("/ims/token/v3", data=form)).json()["access_token"]
    return {
        "Authorization": f"Bearer {token}",
        "x-api-key": "bench",
        "x-gw-ims-org-id": "BENCH@AdobeOrg",
        "x-sandbox-name": "prod",
    }


async def _fill(http: httpx.AsyncClient, headers: dict[str, str], start: int, stop: int) -> str:
    """Create schemas and datasets ``start..stop``; the ``$id`` of the last schema."""
    schema_id = ""
    for i in range(start, stop):
        body: dict[str, Any] = {
            "type": "object",
            "title": f"table {i} (schema) [r-{i}]",
            "allOf": [{"$ref": PROFILE}, {"$ref": PERSON}],
        }
        answer = await http.post(f"{REGISTRY}/tenant/schemas", json=body, headers=headers)
        schema_id = answer.json()["$id"]
        dataset = {"name": f"table {i} (dataset) [r-{i}]", "schemaRef": {"id": schema_id}}
        await http.post(f"{CATALOG}/dataSets", json=dataset, headers=headers)
    return schema_id


async def _median_ms(call: Callable[[], Awaitable[httpx.Response]]) -> float:
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        answer = await call()
        times.append(time.perf_counter() - started)
        assert answer.status_code < 300, answer.text
    return statistics.median(times) * 1000


async def _lookups(http: httpx.AsyncClient, headers: dict[str, str], n: int) -> dict[str, float]:
    i = n // 2
    title, name = f"table {i} (schema) [r-{i}]", f"table {i} (dataset) [r-{i}]"
    listing = {**headers, "Accept": "application/vnd.adobe.xed-id+json"}
    lookup = {**headers, "Accept": "application/vnd.adobe.xed+json; version=1"}
    found = await http.get(
        f"{REGISTRY}/tenant/schemas", params={"property": f"title=={title}"}, headers=listing
    )
    schema = found.json()["results"][0]
    datasets = await http.get(f"{CATALOG}/dataSets", params={"name": name}, headers=headers)
    dataset_id = next(iter(datasets.json()))
    mapping: dict[str, Any] = {
        "xdmSchema": schema["$id"],
        "mappings": [
            {"sourceAttribute": "id", "destinationXdmPath": "_id"},
            {"sourceAttribute": "name", "destinationXdmPath": "person.name.fullName"},
        ],
    }
    calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
        "schema by title": lambda: http.get(
            f"{REGISTRY}/tenant/schemas",
            params={"property": f"title=={title}", "orderby": "title"},
            headers=listing,
        ),
        "schema by altId": lambda: http.get(
            f"{REGISTRY}/tenant/schemas/{quote(schema['meta:altId'])}", headers=lookup
        ),
        "dataset by name": lambda: http.get(
            f"{CATALOG}/dataSets", params={"name": name, "limit": 100}, headers=headers
        ),
        "dataset by id": lambda: http.get(f"{CATALOG}/dataSets/{dataset_id}", headers=headers),
        "mapping set create": lambda: http.post(
            f"{CONVERSION}/mappingSets", json=mapping, headers=headers
        ),
    }
    return {label: await _median_ms(call) for label, call in calls.items()}


async def _run() -> None:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
        headers = await _headers(http)
        filled = 0
        results: dict[int, dict[str, float]] = {}
        for size in SIZES:
            started = time.perf_counter()
            await _fill(http, headers, filled, size)
            took = time.perf_counter() - started
            print(f"filled to {size:,} schemas and datasets in {took:.1f} s")
            filled = size
            results[size] = await _lookups(http, headers, size)
    small, large = results[SIZES[0]], results[SIZES[-1]]
    for label in small:
        ratio = large[label] / small[label]
        print(
            f"{label:>20}: {small[label]:.2f} ms at {SIZES[0]:,}, "
            f"{large[label]:.2f} ms at {SIZES[-1]:,} (x{ratio:.2f}; flat is ~1)"
        )


def main() -> None:
    """Print the median lookup times at each size and their ratio."""
    asyncio.run(_run())

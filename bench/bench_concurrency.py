"""Throughput against concurrency at 50 ms latency, beside its floor and the sequential baseline.

For each concurrency C of 1 to 64, one worker (SQLite ledger) creates ``8 C`` dataflows (at least
16) through the emulator at 50 ms per call. Beside each measured throughput:

* the floor the critical path sets: a dataflow needs ``k = 4`` round trips one after another
  (schema, dataset, target connection, flow; the source connection and the mapping set run
  beside them), so C at a time can do at most ``C / (4 L)`` dataflows per second
  (``N k L / C`` seconds for N);
* the sequential baseline a user would otherwise write: the tutorial's seven calls one after
  another per table (source connection, schema, dataset, target connection, mapping set, the
  flow spec looked up, the flow), measured here with the project's own client and bodies.

Numbers, not pass/fail; results in ``bench/results/concurrency.json``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench import results
from bench.support import (
    CRITICAL_PATH_CALLS,
    POSTGRES_SPEC_ID,
    emulator_process,
    measure,
    reachable,
)
from emulator.testing import Emulator
from messages.models import DataflowRequested
from tests.integration.platform_support import client_for
from tests.integration.samples import sample_request
from worker.observability.logs import captured_logs
from worker.platform import PlatformClient, bodies

LATENCY_MS = 50
CONCURRENCIES = (1, 2, 4, 8, 16, 32, 64)
SEQUENTIAL_TABLES = 10
TUTORIAL_CALLS = 7


async def tutorial(client: PlatformClient, request: DataflowRequested) -> None:
    """The tutorial's seven calls for one table, one after another."""
    sandbox = None
    source = await client.create_source_connection(sandbox, bodies.source_connection_body(request))
    schema = await client.create_schema(sandbox, bodies.schema_body(request, None))
    dataset = await client.create_dataset(sandbox, bodies.dataset_body(request, schema))
    target = await client.create_target_connection(
        sandbox, bodies.target_connection_body(request, schema, dataset)
    )
    mapping = await client.create_mapping_set(
        sandbox, bodies.mapping_set_body(request, schema, None)
    )
    page = await client.flows.page(sandbox, "flowSpecs", 'name=="CRMToAEP"')  # not cached
    spec = page["items"][0]
    body = bodies.flow_body(
        request,
        flow_spec_id=str(spec["id"]),
        source_connection_id=source,
        target_connection_id=target,
        mapping_id=mapping.id,
        mapping_version=mapping.version,
    )
    await client.create_flow(sandbox, body)


async def sequential(emulator: Emulator, tables: int) -> float:
    """Dataflows per second of the tutorial's calls made one after another."""
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    emulator.set_faults({"latency_ms": LATENCY_MS})
    requests = [
        DataflowRequested.model_validate(sample_request(f"seq-{n}-{time.time_ns()}", base))
        for n in range(tables)
    ]
    async with client_for(emulator) as client:
        await client.authenticate()
        started = time.perf_counter()
        for request in requests:
            await tutorial(client, request)
        return tables / (time.perf_counter() - started)


def main() -> None:
    """Sweep the concurrency, print each point beside its floor, write the results."""
    if not reachable(5672):
        print("skipped: RabbitMQ is not reachable on 127.0.0.1:5672")
        return
    latency = LATENCY_MS / 1000
    points = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-concurrency-") as directory,
        emulator_process(Path(directory)) as emulator,
    ):
        with captured_logs("warning"):  # the client's request log is not the report
            baseline = asyncio.run(sequential(emulator, SEQUENTIAL_TABLES))
        print(
            f"sequential baseline (the tutorial's {TUTORIAL_CALLS} calls one after another): "
            f"{baseline:.2f} dataflows/s (floor 1 / (7 L) = {1 / (TUTORIAL_CALLS * latency):.2f})"
        )
        for concurrency in CONCURRENCIES:
            requests = max(8 * concurrency, 16)
            run = measure(
                Path(directory),
                emulator,
                requests=requests,
                latency_ms=LATENCY_MS,
                concurrency=concurrency,
                # up to three branches of a dataflow call at once: the curve measures the
                # concurrency, never the cap on calls in flight (64 by default)
                platform_max_in_flight=str(max(64, 3 * concurrency)),
            )
            ceiling = concurrency / (CRITICAL_PATH_CALLS * latency)
            print(
                f"C={concurrency:>2}: {run.throughput:7.1f} dataflows/s of at most {ceiling:6.1f} "
                f"({run.throughput / ceiling:.2f} of the critical-path ceiling; "
                f"{run.throughput / baseline:5.1f} x sequential), k = {run.k:.2f}, "
                f"{run.failed} failed"
            )
            points.append(
                {
                    **run.summary(),
                    "ceiling_per_second": round(ceiling, 2),
                    "share_of_ceiling": round(run.throughput / ceiling, 3),
                    "times_sequential": round(run.throughput / baseline, 2),
                }
            )
    results.write(
        "concurrency",
        {
            "latency_ms": LATENCY_MS,
            "critical_path_calls": CRITICAL_PATH_CALLS,
            "sequential_per_second": round(baseline, 3),
            "sequential_tables": SEQUENTIAL_TABLES,
            "points": points,
        },
    )


if __name__ == "__main__":
    main()

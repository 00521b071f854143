"""The processes of a chaos run: the emulator, the workers behind a cuttable proxy, the ledger.

Built on the integration harness (:mod:`tests.integration.scenario`): workers reach RabbitMQ
through :class:`~tests.integration.tcp_proxy.CuttableProxy`, while the publisher and the event
collector connect directly, so a cut touches only the workers. Every event is stamped with the
wall-clock time it arrived.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.chaos.plan import ChaosOptions, faults
from tests.chaos.verdict import Kill, note_progress
from tests.integration.harness import EmulatorProcess, WorkerProcess
from tests.integration.samples import sample_request
from tests.integration.scenario import Scenario, postgres_database
from tests.integration.tcp_proxy import CuttableProxy

TICK_S = 0.1


class ChaosWorld:
    """The running world: worker slots, the kills so far, the events with their arrival times."""

    def __init__(
        self, options: ChaosOptions, scenario: Scenario, proxy: CuttableProxy, run_tag: str
    ) -> None:
        self.options = options
        self.scenario = scenario
        self.proxy = proxy
        self.run_tag = run_tag
        self.emulator: EmulatorProcess = scenario.emulator()
        self.base = self.emulator.create_base_connection()
        self.emulator.set_faults(faults(options))
        self.ledger = psycopg.connect(scenario.state_url, autocommit=True)
        self.via_proxy = through_proxy(scenario.broker_url, proxy.port)
        self.workers: list[WorkerProcess] = []
        self.kills: list[Kill] = []
        self._replacements: dict[int, WorkerProcess] = {}  # kill index -> its replacement
        self.request_ids: list[str] = []
        self.seen = 0

    def start_worker(self, *, ready: bool = True) -> WorkerProcess:
        """A worker on the proxied broker (``ready``: wait until it answers ``/readyz``)."""
        return self.scenario.worker(
            self.emulator,
            ready=ready,
            concurrency=self.options.concurrency,
            broker_url=self.via_proxy,
        )

    def publish(self, count: int) -> None:
        """Publish the next ``count`` requests."""
        start = len(self.request_ids)
        ids = [f"chaos-{self.run_tag}-{n:04d}" for n in range(start, start + count)]
        self.scenario.publish(sample_request(rid, self.base) for rid in ids)
        self.request_ids += ids

    def tick(self) -> None:
        """Collect new events (stamped on arrival) and note the replacements that became ready."""
        events = self.scenario.events
        events.drain(0)
        now = time.time()
        for event in events.events[self.seen :]:
            note_progress(self.kills, event, now)
        self.seen = len(events.events)
        self._note_releases(now)
        for index, worker in list(self._replacements.items()):
            if worker.readyz() == 200:
                self.kills[index].ready_at = time.time()
                del self._replacements[index]

    def wait(self, seconds: float) -> None:
        """Keep ticking for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.tick()
            time.sleep(TICK_S)

    def _note_releases(self, now: float) -> None:
        """Note the held requests of each kill whose lease the killed worker no longer holds."""
        waiting = {rid for kill in self.kills for rid in kill.held if rid not in kill.released}
        if not waiting:
            return
        rows = self.ledger.execute(
            "SELECT request_id, lease_owner, lease_expires_at FROM ledger_requests"
            " WHERE request_id = ANY(%s)",
            (sorted(waiting),),
        ).fetchall()
        for request_id, owner, expires in rows:
            for kill in self.kills:
                dead = f":{kill.pid}:" in str(owner or "") and (expires or 0) > now
                if request_id in kill.held and not dead:
                    kill.released.setdefault(str(request_id), now)

    def held_by(self, worker: WorkerProcess) -> tuple[str, ...]:
        """The requests whose unexpired lease ``worker`` holds (owner ``host:pid:...``)."""
        assert worker.process is not None
        rows = self.ledger.execute(
            "SELECT request_id FROM ledger_requests"
            " WHERE lease_owner LIKE %s AND lease_expires_at > %s",
            (f"%:{worker.process.pid}:%", time.time()),
        ).fetchall()
        return tuple(sorted(str(row[0]) for row in rows))

    def owner_of(self, request_id: str) -> int | None:
        """The slot of the worker holding ``request_id``'s lease, if one of ours does."""
        row = self.ledger.execute(
            "SELECT lease_owner FROM ledger_requests WHERE request_id = %s", (request_id,)
        ).fetchone()
        owner = str(row[0]) if row and row[0] else ""
        for slot, worker in enumerate(self.workers):
            if worker.process is not None and f":{worker.process.pid}:" in owner:
                return slot if worker.running else None
        return None

    def kill(self, slot: int, kind: str, **details: Any) -> Kill:
        """SIGKILL the worker in ``slot`` and start its replacement at once."""
        victim = self.workers[slot]
        assert victim.process is not None
        held = self.held_by(victim)
        victim.signal(signal.SIGKILL)
        kill = Kill(kind, time.time(), slot, held, pid=victim.process.pid, **details)
        victim.wait(10)
        self.kills.append(kill)
        self.workers[slot] = self.start_worker(ready=False)
        self._replacements[len(self.kills) - 1] = self.workers[slot]
        return kill

    def recovered(self) -> bool:
        """True when every kill so far has recovered (or can no longer: its replacement died)."""
        for index, worker in self._replacements.items():
            if not worker.running:
                raise AssertionError(f"kill {index}'s replacement exited: {worker.log_tail()}")
        return all(kill.recovery_s() is not None for kill in self.kills)

    def close(self) -> None:
        """Close the ledger connection (the scenario stops the processes)."""
        self.ledger.close()


@contextmanager
def chaos_world(
    options: ChaosOptions, log_dir: Path, broker_url: str, postgres_url: str, run_tag: str
) -> Iterator[ChaosWorld]:
    """A world on a fresh PostgreSQL database and topology; everything removed afterwards."""
    with ExitStack() as stack:
        state_url = stack.enter_context(postgres_database(postgres_url))
        host, port = broker_host_port(broker_url)
        proxy = stack.enter_context(CuttableProxy((host, port)))
        scenario = Scenario(log_dir, broker_url, state_url)
        stack.callback(scenario.close)
        world = ChaosWorld(options, scenario, proxy, run_tag)
        stack.callback(world.close)
        yield world


def broker_host_port(broker_url: str) -> tuple[str, int]:
    """The host and port of an ``amqp://`` URL (5672 by default)."""
    parts = urlsplit(broker_url)
    return parts.hostname or "127.0.0.1", parts.port or 5672


def through_proxy(broker_url: str, port: int) -> str:
    """The same broker URL, its host and port replaced by the proxy's on loopback."""
    parts = urlsplit(broker_url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))

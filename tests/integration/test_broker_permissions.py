"""The RabbitMQ permissions of docs/operations.md are enough, and no wider than they say.

A vhost and a user of the test's own get exactly the permission patterns the page documents
(read from the page, with the test's topology prefix); ``publish``, ``run --burst``, ``dlq list``,
``dlq replay`` and ``onboard --wait`` then do their work as that user, as processes.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kombu
import pytest
from amqp.exceptions import AccessRefused

from emulator.testing import POSTGRES_SPEC_ID, Emulator, running_emulator
from tests.integration.harness import (
    REPO,
    EventCollector,
    WorkerProcess,
    collecting_events,
    free_port,
    run_command,
    unique,
    worker_env,
)
from tests.integration.samples import sample_request
from tests.services import in_ci

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCUMENTED_PREFIX = r"dataflow\."
REFUSE_TARGETS = {
    "errors": {"400": 1.0},
    "paths": "^/data/foundation/flowservice/targetConnections",
}


def documented_permissions(prefix: str) -> tuple[str, str, str]:
    """The configure, write and read patterns of docs/operations.md, for ``prefix``."""
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    [line] = [row for row in text.splitlines() if row.startswith("rabbitmqctl set_permissions")]
    configure, write, read = shlex.split(line)[-3:]
    mine = re.escape(prefix) + r"\."
    assert all(DOCUMENTED_PREFIX in pattern for pattern in (configure, write, read))
    return tuple(p.replace(DOCUMENTED_PREFIX, mine) for p in (configure, write, read))  # type: ignore[return-value]


def rabbitmqctl(*args: str) -> None:
    """Run ``rabbitmqctl`` (as root, like CI); fail with its output."""
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"rabbitmqctl {args[0]}: {done.stdout}{done.stderr}"


@pytest.fixture
def restricted(rabbitmq_url: str) -> Iterator[tuple[str, str, str]]:
    """(restricted URL, observer URL, prefix): a vhost whose user has only the documented rights."""
    if shutil.which("rabbitmqctl") is None:
        reason = "rabbitmqctl is not installed"
        if in_ci():
            pytest.fail(f"{reason}; CI must have it (see .ci/run)")
        pytest.skip(reason)
    vhost, user, password, prefix = unique("tv"), unique("tu"), unique("pw"), unique("tlp")
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("add_user", user, password)
        rabbitmqctl("set_permissions", "-p", vhost, user, *documented_permissions(prefix))
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")  # the observer
        yield (
            f"amqp://{user}:{password}@127.0.0.1:5672/{vhost}",
            f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
            prefix,
        )
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_user", user], check=False, timeout=120)
        rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """The Platform emulator in a thread."""
    with running_emulator() as emu:
        yield emu


def terminal_type(events: EventCollector, request_id: str, *, after: int = 0) -> str:
    """The type of the request's terminal event number ``after`` (0: the first)."""
    found = events.wait_for_terminal([request_id], timeout=90)[request_id]
    if len(found) <= after:
        found = _wait_for_more(events, request_id, after)
    return str(found[after]["type"])


def _wait_for_more(events: EventCollector, request_id: str, after: int) -> list[dict[str, object]]:
    from tests.integration.harness import wait_until

    def enough() -> list[dict[str, object]] | None:
        events.drain(0)
        found = events.terminal().get(request_id, [])
        return found if len(found) > after else None

    found: list[dict[str, object]] = wait_until(
        enough, timeout=90, what=f"terminal event {after + 1} of {request_id}"
    )
    return found


def test_publish_run_dlq_and_onboard_work_under_exactly_the_documented_permissions(
    restricted: tuple[str, str, str], emulator: Emulator, tmp_path: Path
) -> None:
    url, observer, prefix = restricted
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    env = worker_env(
        broker_url=url,
        state_url=f"sqlite:///{tmp_path / 'state.db'}",
        prefix=prefix,
        platform_url=emulator.url,
        metrics_port=free_port(),
        concurrency=2,
        drain_seconds="5",
        client_id=emulator.client_id,
        org_id=emulator.org,
    )
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(sample_request("lp-1", base)), encoding="utf-8")
    second.write_text(json.dumps(sample_request("lp-2", base)), encoding="utf-8")
    emulator.set_faults(REFUSE_TARGETS)
    with collecting_events(observer, f"{prefix}") as events:
        published = run_command(["publish", str(first)], env)
        assert published.returncode == 0, published.stderr

        burst = WorkerProcess(tmp_path, env, args=["--burst"])
        burst.start()
        assert burst.wait(timeout=120) == 0, burst.log_tail()
        assert terminal_type(events, "lp-1") == "DataflowFailed"

        listed = run_command(["dlq", "list", "--json"], env)
        assert listed.returncode == 0, listed.stderr
        assert [row["request_id"] for row in json.loads(listed.stdout)] == ["lp-1"]

        emulator.set_faults({})
        replayed = run_command(["dlq", "replay", "lp-1"], env)
        assert replayed.returncode == 0, replayed.stderr
        assert "lp-1: replayed" in replayed.stdout

        worker = WorkerProcess(
            tmp_path, {**env, "DATAFLOW_METRICS_ADDR": f"127.0.0.1:{free_port()}"}
        )
        worker.start()
        try:
            onboarded = run_command(["onboard", str(second), "--wait", "--timeout", "120"], env)
            assert onboarded.returncode == 0, onboarded.stdout + onboarded.stderr
            assert "created" in onboarded.stdout
            assert terminal_type(events, "lp-1", after=1) == "DataflowCreated"
        finally:
            assert worker.stop() == 0, worker.log_tail()


def test_the_documented_permissions_refuse_what_is_not_the_workers(
    restricted: tuple[str, str, str],
) -> None:
    url, _, _ = restricted
    with kombu.Connection(url) as connection:
        channel = connection.channel()
        with pytest.raises(AccessRefused):
            channel.queue_declare(queue="someone-elses.queue", durable=True)

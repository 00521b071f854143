"""AMQP over verified TLS: a TLS proxy with test certificates in front of the machine's RabbitMQ.

The worker and ``publish`` run as processes configured only by ``DATAFLOW_*`` variables. A
verified connection carries a request end to end; a certificate from an unknown CA and one for
another host name are each refused with one error line, and no request is taken.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from emulator.testing import POSTGRES_SPEC_ID, Emulator, running_emulator
from tests.integration.harness import (
    WorkerProcess,
    collecting_events,
    free_port,
    run_command,
    wait_until,
    worker_env,
)
from tests.integration.samples import sample_request
from tests.integration.tls_proxy import Certificates, TlsProxy
from tests.integration.worker_support import (
    publish_request,
    queue_depth,
    request_publisher,
    sqlite_url,
    topology_prefix,
)

pytestmark = pytest.mark.integration

RABBITMQ = ("127.0.0.1", 5672)


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """A trusted CA and every certificate the tests need, as PEM files."""
    directory = tmp_path / "pki"
    directory.mkdir()
    return Certificates.make(directory)


@pytest.fixture
def prefix(rabbitmq_url: str) -> Iterator[str]:
    """A unique topology prefix, deleted afterwards (over plain AMQP)."""
    with topology_prefix(rabbitmq_url) as name:
        yield name


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """The Platform emulator in a thread."""
    with running_emulator() as emu:
        yield emu


def tls_env(url: str, certificates: Certificates, **extra: str) -> dict[str, str]:
    """The broker settings of a process that trusts only the test CA."""
    return {"DATAFLOW_BROKER_URL": url, "DATAFLOW_BROKER_CA_BUNDLE": str(certificates.ca), **extra}


def publish_command(
    env: Mapping[str, str], prefix: str, tmp_path: Path, base: str = "base-1"
) -> subprocess.CompletedProcess[str]:
    """``dataflow-worker publish`` of one request (``crm-tls``), as a process."""
    path = tmp_path / "request.json"
    path.write_text(json.dumps(sample_request("crm-tls", base)), encoding="utf-8")
    return run_command(
        ["publish", str(path)], {**env, "DATAFLOW_TOPOLOGY_PREFIX": prefix}, timeout=60
    )


def run_worker(
    url: str,
    certificates: Certificates,
    emulator: Emulator,
    prefix: str,
    tmp_path: Path,
    *,
    args: tuple[str, ...] = (),
    **extra: str,
) -> WorkerProcess:
    """A started ``dataflow-worker run`` process whose broker is ``url``."""
    env = worker_env(
        broker_url=url,
        state_url=sqlite_url(tmp_path),
        prefix=prefix,
        platform_url=emulator.url,
        metrics_port=free_port(),
        concurrency=2,
        drain_seconds="5",
        client_id=emulator.client_id,
        org_id=emulator.org,
        broker_ca_bundle=str(certificates.ca),
        **extra,
    )
    worker = WorkerProcess(tmp_path, env, args=args)
    worker.start()
    return worker


def test_a_verified_tls_connection_publishes_and_runs_a_request_end_to_end(
    rabbitmq_url: str, prefix: str, certificates: Certificates, emulator: Emulator, tmp_path: Path
) -> None:
    base = emulator.create_base_connection(POSTGRES_SPEC_ID)
    with (
        TlsProxy(RABBITMQ, certificates.server) as proxy,
        collecting_events(rabbitmq_url, prefix) as events,
    ):
        published = publish_command(tls_env(proxy.url(), certificates), prefix, tmp_path, base)
        assert published.returncode == 0, published.stderr
        assert "published crm-tls" in published.stdout
        worker = run_worker(
            proxy.url(), certificates, emulator, prefix, tmp_path, args=("--burst",)
        )
        try:
            assert worker.wait(timeout=90) == 0, worker.log_tail()
        finally:
            worker.stop()
        terminal = events.wait_for_terminal(["crm-tls"], timeout=30)
        assert proxy.handshakes >= 2  # publish, and the worker's connections
        assert proxy.failed_handshakes == 0
    assert [event["type"] for event in terminal["crm-tls"]] == ["DataflowCreated"]


def test_a_client_certificate_is_presented_when_the_broker_requires_one(
    rabbitmq_url: str, prefix: str, certificates: Certificates, tmp_path: Path
) -> None:
    with TlsProxy(RABBITMQ, certificates.server, client_ca=certificates.trusted) as proxy:
        env = tls_env(
            proxy.url(),
            certificates,
            DATAFLOW_BROKER_CLIENT_CERT=str(certificates.client_cert),
            DATAFLOW_BROKER_CLIENT_KEY=str(certificates.client_key),
        )
        published = publish_command(env, prefix, tmp_path)
        assert published.returncode == 0, published.stderr
        assert proxy.handshakes >= 1
    assert queue_depth(rabbitmq_url, f"{prefix}.requests") == 1


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("unknown_ca_server", "unable to get local issuer certificate"),
        ("other_host_server", "Hostname mismatch"),
    ],
    ids=["unknown CA", "host name mismatch"],
)
def test_a_refused_certificate_is_one_error_line_exit_2_and_nothing_is_published(
    rabbitmq_url: str,
    prefix: str,
    certificates: Certificates,
    tmp_path: Path,
    server: str,
    expected: str,
) -> None:
    with request_publisher(rabbitmq_url, prefix):
        pass  # the topology exists, so an empty requests queue can be counted
    with TlsProxy(RABBITMQ, getattr(certificates, server)) as proxy:
        published = publish_command(tls_env(proxy.url(), certificates), prefix, tmp_path)
        assert proxy.handshakes == 0
    assert published.returncode == 2
    [line] = published.stderr.splitlines()
    assert line.startswith("error: ")
    assert "the broker's TLS certificate was refused" in line
    assert expected in line
    assert queue_depth(rabbitmq_url, f"{prefix}.requests") == 0


@pytest.mark.parametrize(
    "server", ["unknown_ca_server", "other_host_server"], ids=["unknown CA", "host name mismatch"]
)
def test_a_worker_whose_broker_certificate_is_refused_stays_unready_and_takes_nothing(
    rabbitmq_url: str,
    prefix: str,
    certificates: Certificates,
    emulator: Emulator,
    tmp_path: Path,
    server: str,
) -> None:
    with request_publisher(rabbitmq_url, prefix) as publisher:
        publish_request(publisher, sample_request("crm-tls-waits", "base-1"))
    with TlsProxy(RABBITMQ, getattr(certificates, server)) as proxy:
        worker = run_worker(proxy.url(), certificates, emulator, prefix, tmp_path)
        try:
            wait_until(
                lambda: "certificate was refused" in worker.log_tail(200),
                timeout=60,
                what="the refusal in the worker's log",
            )
            assert worker.readyz() == 503
            assert worker.running
            assert proxy.handshakes == 0
        finally:
            assert worker.stop() == 0
    refusals = [
        json.loads(line)
        for line in worker.log_tail(400).splitlines()
        if "certificate was refused" in line
    ]
    assert refusals, worker.log_tail()
    assert all("\n" not in str(entry.get("error")) for entry in refusals)
    assert queue_depth(rabbitmq_url, f"{prefix}.requests") == 1

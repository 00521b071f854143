"""deploy/compose.yaml: valid for the Compose specification, and its parts fit together."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from deploy.generate import COMPOSE_TARGETS
from tests.deploy.support import DEPLOY, EVERY_ADDRESS, ROOT
from worker.config import load_settings
from worker.observability.health import parse_address

COMPOSE = DEPLOY / "compose.yaml"
WORKERS = ("worker-1", "worker-2")


@cache
def _schema() -> dict[str, Any]:
    """The Compose specification's JSON schema, as check-jsonschema ships it."""
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath("compose-spec.json").read_text("utf-8"))
    return schema


def _errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(_schema())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as Compose reads it (anchors and merge keys resolved)."""
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


def test_the_compose_file_validates_against_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    assert _schema()["title"] == "Compose Specification"
    assert _errors(compose) == []


@pytest.mark.parametrize(
    ("service", "key", "value"),
    [("postgres", "healthchek", {}), ("grafana", "ports", "3000"), ("worker-1", "restart", 1)],
)
def test_the_schema_refuses_a_mistake(
    compose: dict[str, Any], service: str, key: str, value: Any
) -> None:
    broken = copy.deepcopy(compose)
    broken["services"][service] = {**broken["services"][service], key: value}
    assert _errors(broken) != []


def test_the_stack_has_every_part(compose: dict[str, Any]) -> None:
    assert sorted(compose["services"]) == sorted(
        ["rabbitmq", "postgres", "emulator", *WORKERS, "prometheus", "grafana"]
    )


def _host(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    return str(parts.hostname), parts.port


@pytest.mark.parametrize("worker", WORKERS)
def test_each_worker_uses_the_stacks_broker_ledger_and_emulator(
    compose: dict[str, Any], worker: str
) -> None:
    service = compose["services"][worker]
    env = service["environment"]
    assert service["command"] == ["run"]
    assert env["DATAFLOW_STATE_URL"].startswith("postgresql://")
    assert _host(env["DATAFLOW_STATE_URL"]) == ("postgres", 5432)
    assert _host(env["DATAFLOW_BROKER_URL"]) == ("rabbitmq", 5672)
    emulator_port = next(
        int(arg.split("=")[1])
        for arg in compose["services"]["emulator"]["command"]
        if arg.startswith("--port=")
    )
    assert _host(env["DATAFLOW_PLATFORM_URL"]) == ("emulator", emulator_port)
    assert _host(env["DATAFLOW_IMS_URL"]) == ("emulator", emulator_port)
    assert set(service["depends_on"]) == {"rabbitmq", "postgres", "emulator"}
    settings = load_settings(env)
    settings.require_credentials()
    assert parse_address(settings.metrics_addr) == (EVERY_ADDRESS, 9464)
    grace = float(service["stop_grace_period"].removesuffix("s"))
    assert grace > settings.drain_seconds


def test_the_emulator_listens_for_the_other_containers(compose: dict[str, Any]) -> None:
    command = compose["services"]["emulator"]["command"]
    assert command[0] == "emulator"
    assert {f"--host={EVERY_ADDRESS}", "--allow-remote"} <= set(command)
    state = next(arg.split("=")[1] for arg in command if arg.startswith("--state-file="))
    mounts = [volume.split(":")[1] for volume in compose["services"]["emulator"]["volumes"]]
    assert str(PurePosixPath(state).parent) in mounts


def test_rabbitmq_runs_the_management_and_prometheus_plugins(compose: dict[str, Any]) -> None:
    [config] = compose["services"]["rabbitmq"]["configs"]
    assert config["target"] == "/etc/rabbitmq/enabled_plugins"
    plugins = compose["configs"][config["source"]]["content"]
    assert "rabbitmq_management" in plugins
    assert "rabbitmq_prometheus" in plugins


def test_prometheus_scrapes_the_workers_and_rabbitmq_of_the_stack(compose: dict[str, Any]) -> None:
    assert COMPOSE_TARGETS["dataflow-worker"] == [f"{worker}:9464" for worker in WORKERS]
    assert COMPOSE_TARGETS["rabbitmq"] == ["rabbitmq:15692"]
    prometheus = compose["services"]["prometheus"]
    mounts = dict(volume.split(":")[:2] for volume in prometheus["volumes"])
    assert mounts["./prometheus"] == "/etc/prometheus"
    config = next(a.split("=")[1] for a in prometheus["command"] if a.startswith("--config.file="))
    assert (DEPLOY / "prometheus" / PurePosixPath(config).relative_to("/etc/prometheus")).is_file()


def test_grafana_finds_prometheus_and_the_dashboard_where_provisioning_says(
    compose: dict[str, Any],
) -> None:
    grafana = compose["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text("utf-8")
    )
    assert _host(datasources["datasources"][0]["url"]) == ("prometheus", 9090)
    providers = yaml.safe_load(
        (provisioning / "dashboards" / "dataflow-worker.yml").read_text("utf-8")
    )
    assert mounts["./grafana/dashboards"] == providers["providers"][0]["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


def test_every_bind_mount_and_the_build_context_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
        if "build" in service:
            assert (DEPLOY / service["build"]["context"]).resolve() == ROOT
            assert Path(ROOT / "Dockerfile").is_file()


def test_published_ports_listen_on_loopback_only(compose: dict[str, Any]) -> None:
    ports = [port for service in compose["services"].values() for port in service.get("ports", [])]
    assert ports
    assert all(port.startswith("127.0.0.1:") for port in ports)

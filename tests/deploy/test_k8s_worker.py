"""The worker Deployment of deploy/k8s: probes, security, grace period, resources, Secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import (
    CREDENTIALS,
    EVERY_ADDRESS,
    K8S,
    config_map_env,
    container,
    find,
    kustomize,
)
from worker.config import PREFIX, load_settings
from worker.observability.health import parse_address

pytestmark = pytest.mark.integration  # runs kubectl kustomize

SECRET_NAME = "dataflow-worker"
DRAIN_EXIT_SECONDS = 5
"""How long after DATAFLOW_DRAIN_SECONDS the worker may still take to exit (the consumer join)."""


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    """The objects of the production build."""
    return kustomize(K8S)


@pytest.fixture(scope="module")
def deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' Deployment."""
    return find(objects, "Deployment", "dataflow-worker")


@pytest.fixture(scope="module")
def pod(deployment: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of the Deployment."""
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def env(objects: list[dict[str, Any]], deployment: dict[str, Any]) -> dict[str, str]:
    """The worker container's environment, ConfigMap included."""
    return config_map_env(objects, deployment)


def _quantity(value: str | int) -> float:
    """A Kubernetes quantity (250m, 1, 256Mi, 1Gi) as a number."""
    units = {"m": 1e-3, "": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    assert match is not None, f"not a quantity: {value!r}"
    assert match.group(2) in units, f"unknown unit in {value!r}"
    return float(match.group(1)) * units[match.group(2)]


def test_the_probes_ask_the_health_server_on_the_metrics_address(
    deployment: dict[str, Any], env: dict[str, str]
) -> None:
    worker = container(deployment)
    host, port = parse_address(env["DATAFLOW_METRICS_ADDR"])
    assert host == EVERY_ADDRESS, "in a pod the health server must listen on every address"
    ports = {p["name"]: p["containerPort"] for p in worker["ports"]}
    assert ports == {"metrics": port}
    probes = {
        kind: (worker[kind]["httpGet"]["path"], worker[kind]["httpGet"]["port"])
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": ("/healthz", "metrics"),
        "livenessProbe": ("/healthz", "metrics"),
        "readinessProbe": ("/readyz", "metrics"),
    }


def test_the_worker_runs_as_a_non_root_user_on_a_read_only_root_filesystem(
    pod: dict[str, Any], deployment: dict[str, Any]
) -> None:
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] > 0
    assert security["runAsGroup"] > 0
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    worker = container(deployment)["securityContext"]
    assert worker["readOnlyRootFilesystem"] is True
    assert worker["allowPrivilegeEscalation"] is False
    assert worker.get("privileged", False) is False
    assert worker["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False


def test_only_temporary_files_are_writable(pod: dict[str, Any], deployment: dict[str, Any]) -> None:
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    writable = {
        mount["mountPath"]: volumes[mount["name"]]
        for mount in container(deployment)["volumeMounts"]
        if not mount.get("readOnly", False)
    }
    assert list(writable) == ["/tmp"]
    assert "sizeLimit" in writable["/tmp"]["emptyDir"]


def test_the_grace_period_outlasts_the_drain(pod: dict[str, Any], env: dict[str, str]) -> None:
    drain = float(env["DATAFLOW_DRAIN_SECONDS"])
    assert drain > 0
    assert pod["terminationGracePeriodSeconds"] > drain + DRAIN_EXIT_SECONDS


def test_the_worker_requests_and_is_limited_in_cpu_and_memory(deployment: dict[str, Any]) -> None:
    resources = container(deployment)["resources"]
    for resource in ("cpu", "memory"):
        request = _quantity(resources["requests"][resource])
        limit = _quantity(resources["limits"][resource])
        assert 0 < request <= limit, resource
    assert _quantity(resources["limits"]["memory"]) >= 256 * 2**20


def test_the_replica_count_is_left_to_the_autoscaler(deployment: dict[str, Any]) -> None:
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def _credential_files(pod: dict[str, Any], deployment: dict[str, Any]) -> dict[str, str]:
    """Secret key -> the path the worker container reads it at."""
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    files: dict[str, str] = {}
    for mount in container(deployment)["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        assert secret["secretName"] == SECRET_NAME
        assert mount["readOnly"] is True
        for item in secret["items"]:
            files[item["key"]] = f"{mount['mountPath']}/{item['path']}"
    return files


def test_every_credential_comes_from_the_secret_and_none_is_literal(
    pod: dict[str, Any], deployment: dict[str, Any], env: dict[str, str]
) -> None:
    files = set(_credential_files(pod, deployment).values())
    for setting in CREDENTIALS:
        name = PREFIX + setting.upper()
        assert name not in env, f"{name} is given literally"
        assert env.get(f"{name}_FILE") in files, f"{name}_FILE does not name a Secret file"
    assert not any(
        var.get("valueFrom", {}).get("configMapKeyRef") for var in container(deployment)["env"]
    )


def test_the_worker_settings_load_from_the_pods_environment_and_secret_files(
    pod: dict[str, Any], deployment: dict[str, Any], env: dict[str, str], tmp_path: Path
) -> None:
    """Write each Secret key where the pod would see it, then load Settings as `run` does."""
    secret = {
        "broker-url": "amqps://worker:pw@rabbitmq.example:5671/dataflow",
        "state-url": "postgresql://worker:pw@postgres.example:5432/dataflow",
        "client-id": "client",
        "client-secret": "s3cret",
        "org-id": "0123456789ABCDEF01234567@AdobeOrg",
    }
    paths = _credential_files(pod, deployment)
    assert set(paths) == set(secret), "the Secret's keys and the mounted items differ"
    moved = {path: str(tmp_path / key) for key, path in paths.items()}
    for key, path in paths.items():
        Path(moved[path]).write_text(secret[key] + "\n", encoding="utf-8")
    environ = {name: moved.get(value, value) for name, value in env.items()}

    settings = load_settings(environ)
    settings.require_credentials()
    assert settings.broker_url == secret["broker-url"]
    assert settings.state_url == secret["state-url"]
    assert settings.client_secret is not None
    assert settings.client_secret.get_secret_value() == secret["client-secret"]
    assert parse_address(settings.metrics_addr)[0] == EVERY_ADDRESS

"""Around the workers: KEDA autoscaling, disruption budget, network policy, monitoring, emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.deploy.support import (
    DEPLOY,
    EMULATOR_OVERLAY,
    EVERY_ADDRESS,
    K8S,
    config_map_env,
    container,
    find,
    kustomize,
)
from worker.broker.topology import Topology

pytestmark = pytest.mark.integration  # runs kubectl kustomize

WORKER_LABELS = {
    "app.kubernetes.io/name": "dataflow-worker",
    "app.kubernetes.io/component": "worker",
}
SCALERS = DEPLOY / "schemas" / "keda-scalers-schema.json"


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    """The objects of the production build."""
    return kustomize(K8S)


def _pod_labels(objects: list[dict[str, Any]]) -> dict[str, str]:
    labels: dict[str, str] = find(objects, "Deployment", "dataflow-worker")["spec"]["template"][
        "metadata"
    ]["labels"]
    return labels


def test_the_selectors_all_pick_the_worker_pods(objects: list[dict[str, Any]]) -> None:
    assert _pod_labels(objects) == WORKER_LABELS
    deployment = find(objects, "Deployment", "dataflow-worker")
    selectors = {
        "Deployment": deployment["spec"]["selector"]["matchLabels"],
        "PodDisruptionBudget": find(objects, "PodDisruptionBudget")["spec"]["selector"][
            "matchLabels"
        ],
        "PodMonitor": find(objects, "PodMonitor")["spec"]["selector"]["matchLabels"],
        "NetworkPolicy": find(objects, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"],
    }
    assert selectors == dict.fromkeys(selectors, WORKER_LABELS)


def test_keda_scales_the_deployment_on_the_requests_queue_over_http(
    objects: list[dict[str, Any]],
) -> None:
    scaled = find(objects, "ScaledObject")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "dataflow-worker"
    assert scaled["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    assert 0 <= scaled["minReplicaCount"] < scaled["maxReplicaCount"]
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "rabbitmq"
    metadata = trigger["metadata"]
    # http counts ready + unacknowledged; amqp would miss what the workers hold.
    assert metadata["protocol"] == "http"
    assert metadata.get("excludeUnacknowledged", "false") == "false"
    assert metadata["queueName"] == Topology().requests_queue
    assert metadata["mode"] == "QueueLength"
    env = config_map_env(objects, find(objects, "Deployment", "dataflow-worker"))
    assert metadata["value"] == env["DATAFLOW_CONCURRENCY"], "one replica per full prefetch"
    assert float(metadata["activationValue"]) == 0, "any waiting message wakes a worker"


def test_the_fallback_keeps_workers_when_keda_cannot_read_the_queue(
    objects: list[dict[str, Any]],
) -> None:
    scaled = find(objects, "ScaledObject")["spec"]
    assert scaled["fallback"]["replicas"] >= 1
    # KEDA accepts a fallback only for AverageValue triggers.
    assert all(t.get("metricType", "AverageValue") == "AverageValue" for t in scaled["triggers"])


def test_the_broker_management_url_comes_from_the_secret(objects: list[dict[str, Any]]) -> None:
    trigger = find(objects, "ScaledObject")["spec"]["triggers"][0]
    assert "host" not in trigger["metadata"]
    auth = find(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "host", "name": "dataflow-worker", "key": "rabbitmq-management-url"}
    ]


def test_the_trigger_uses_only_parameters_the_rabbitmq_scaler_reads(
    objects: list[dict[str, Any]],
) -> None:
    """KEDA's scaler schema lists each parameter and where it may come from."""
    scalers = json.loads(SCALERS.read_text(encoding="utf-8"))["scalers"]
    [rabbitmq] = [scaler for scaler in scalers if scaler["type"] == "rabbitmq"]
    params = {param["name"]: param for param in rabbitmq["parameters"]}
    trigger = find(objects, "ScaledObject")["spec"]["triggers"][0]
    auth = find(objects, "TriggerAuthentication")["spec"]["secretTargetRef"]
    for name in trigger["metadata"]:
        assert params.get(name, {}).get("metadataVariableReadable"), f"metadata {name}"
    for ref in auth:
        assert params.get(ref["parameter"], {}).get("triggerAuthenticationVariableReadable")
    given = set(trigger["metadata"]) | {ref["parameter"] for ref in auth}
    required = {n for n, p in params.items() if not p.get("optional") and "default" not in p}
    assert required <= given


def test_a_disruption_takes_one_worker_at_a_time_and_never_waits_on_unready_ones(
    objects: list[dict[str, Any]],
) -> None:
    budget = find(objects, "PodDisruptionBudget")["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_the_network_policy_lets_workers_reach_only_dns_the_broker_the_database_and_https(
    objects: list[dict[str, Any]],
) -> None:
    policy = find(objects, "NetworkPolicy")["spec"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    reachable = {
        (port["port"], port["protocol"]) for rule in policy["egress"] for port in rule["ports"]
    }
    assert reachable == {
        (53, "UDP"),
        (53, "TCP"),
        (5672, "TCP"),
        (5671, "TCP"),
        (5432, "TCP"),
        (443, "TCP"),
    }
    [ingress] = policy["ingress"]
    assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert ingress["from"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "prometheus"
    }


def test_prometheus_scrapes_the_workers_under_the_job_the_alerts_use(
    objects: list[dict[str, Any]],
) -> None:
    monitor = find(objects, "PodMonitor")["spec"]
    job = _pod_labels(objects)[monitor["jobLabel"]]
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    assert job in {config["job_name"] for config in scrape["scrape_configs"]}
    alerts = (DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8")
    assert f'job="{job}"' in alerts
    assert monitor["podMetricsEndpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s"}
    ]


def test_the_emulator_overlay_points_the_workers_at_the_emulator() -> None:
    objects = kustomize(EMULATOR_OVERLAY)
    env = config_map_env(objects, find(objects, "Deployment", "dataflow-worker"))
    service = find(objects, "Service", "dataflow-emulator")
    port = service["spec"]["ports"][0]["port"]
    url = f"http://dataflow-emulator:{port}"
    assert env["DATAFLOW_PLATFORM_URL"] == url
    assert env["DATAFLOW_IMS_URL"] == url
    emulator = container(find(objects, "Deployment", "dataflow-emulator"))
    assert emulator["args"][0] == "emulator"
    assert {f"--host={EVERY_ADDRESS}", "--allow-remote", f"--port={port}"} <= set(emulator["args"])
    assert emulator["securityContext"]["readOnlyRootFilesystem"] is True
    egress = find(objects, "NetworkPolicy", "dataflow-worker")["spec"]["egress"]
    to_emulator = [rule for rule in egress if "to" in rule]
    assert to_emulator == [
        {
            "to": [{"podSelector": {"matchLabels": service["spec"]["selector"]}}],
            "ports": [{"port": port, "protocol": "TCP"}],
        }
    ]


def test_the_production_build_has_no_emulator_and_no_platform_override(
    objects: list[dict[str, Any]],
) -> None:
    env = config_map_env(objects, find(objects, "Deployment", "dataflow-worker"))
    assert "DATAFLOW_PLATFORM_URL" not in env
    assert "DATAFLOW_IMS_URL" not in env
    assert not [obj for obj in objects if "emulator" in obj["metadata"]["name"]]

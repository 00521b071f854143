"""Every object `kubectl kustomize` builds from deploy/k8s validates against its schema."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.deploy.schemas import kubernetes_versions, validation_errors
from tests.deploy.support import EMULATOR_OVERLAY, K8S, find, kustomize

pytestmark = pytest.mark.integration  # runs kubectl kustomize

BUILDS = {"deploy/k8s": K8S, "deploy/k8s/emulator": EMULATOR_OVERLAY}


@pytest.mark.parametrize("version", kubernetes_versions())
@pytest.mark.parametrize("build", sorted(BUILDS))
def test_every_built_object_validates_against_its_schema(build: str, version: str) -> None:
    objects = kustomize(BUILDS[build])
    failures = {
        f"{obj['kind']}/{obj['metadata']['name']}": errors
        for obj in objects
        if (errors := validation_errors(obj, version))
    }
    assert not failures, failures


def test_the_production_build_has_every_part_of_the_deployment() -> None:
    kinds = sorted(obj["kind"] for obj in kustomize(K8S))
    assert kinds == sorted(
        [
            "ConfigMap",  # the settings
            "ConfigMap",  # the Grafana dashboard
            "Deployment",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "PodMonitor",
            "PrometheusRule",
            "ScaledObject",
            "ServiceAccount",
            "TriggerAuthentication",
        ]
    )


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path (list indexes as numbers) in an object."""
    *parents, last = path.split(".")
    target: Any = obj
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value


MISTAKES = [
    ("Deployment", "spec.template.spec.terminationGracePeriod", 60),
    ("Deployment", "spec.template.spec.containers.0.livenessProbe.httpGet.port", [9464]),
    ("PodDisruptionBudget", "spec.unhealthyPodEvictionPolicy", 1),
    ("NetworkPolicy", "spec.egres", []),
    ("ServiceAccount", "automountToken", False),
    ("ScaledObject", "spec.minReplicaCount", "zero"),
    ("ScaledObject", "spec.triggers.0.metdata", {"queueName": "dataflow.requests"}),
    ("TriggerAuthentication", "spec.secretTargetRef.0.secret", "dataflow-worker"),
    ("PodMonitor", "spec.podMetricsEndpoints.0.intervall", "15s"),
    ("PrometheusRule", "spec.groups.0.rules.0.for", 10),
]


@pytest.mark.parametrize(("kind", "path", "value"), MISTAKES, ids=lambda v: str(v))
def test_the_validation_refuses_a_mistake(kind: str, path: str, value: Any) -> None:
    obj = copy.deepcopy(find(kustomize(K8S), kind))
    _set(obj, path, value)
    for version in kubernetes_versions():
        assert validation_errors(obj, version), f"{kind} {path}={value!r} passed"


def test_a_kind_without_a_schema_is_an_error() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "x"}}
    assert validation_errors(obj, kubernetes_versions()[-1]) != []

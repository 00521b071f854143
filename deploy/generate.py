"""Write the deployment files derived from others (`make k8s`); `--check` only compares.

- `deploy/k8s/base/prometheusrule.yaml`: a PrometheusRule carrying exactly the groups of
  `deploy/prometheus/alerts.yml`.
- `deploy/k8s/base/grafana-dashboard.yaml`: a ConfigMap holding `deploy/grafana/dashboards/*.json`
  unchanged, labelled for the Grafana dashboard sidecar.
- `deploy/prometheus/prometheus.compose.yml`: `deploy/prometheus/prometheus.yml` with the scrape
  targets of `deploy/compose.yaml`'s services, everything else (jobs, paths, rule files) kept.

The building functions are pure (data in, data out); only `outputs`, `write` and `main` read or
write files. Tests compare the committed files with a fresh `outputs` (tests/deploy/).
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
NAME = "dataflow-worker"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": NAME}
DASHBOARD_SIDECAR_LABEL = "grafana_dashboard"
DASHBOARD_FOLDER_ANNOTATION = "grafana_folder"

# Where the compose stack's Prometheus finds each job's targets (service names of compose.yaml).
COMPOSE_TARGETS: dict[str, list[str]] = {
    "dataflow-worker": ["worker-1:9464", "worker-2:9464"],
    "rabbitmq": ["rabbitmq:15692"],
}

ALERTS = Path("deploy/prometheus/alerts.yml")
SCRAPE_CONFIG = Path("deploy/prometheus/prometheus.yml")
DASHBOARDS = Path("deploy/grafana/dashboards")
PROMETHEUS_RULE = Path("deploy/k8s/base/prometheusrule.yaml")
DASHBOARD_CONFIGMAP = Path("deploy/k8s/base/grafana-dashboard.yaml")
COMPOSE_SCRAPE_CONFIG = Path("deploy/prometheus/prometheus.compose.yml")


class GenerateError(Exception):
    """A source file cannot be turned into its derived file."""


def prometheus_rule(alerts: Mapping[str, Any]) -> dict[str, Any]:
    """The PrometheusRule whose spec is the rule file's groups, unchanged."""
    groups = alerts.get("groups")
    if not isinstance(groups, list) or not groups:
        raise GenerateError("the alert rules file has no groups")
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": NAME, "labels": dict(LABELS)},
        "spec": {"groups": copy.deepcopy(groups)},
    }


def dashboard_configmap(dashboards: Mapping[str, str], folder: str = NAME) -> dict[str, Any]:
    """A ConfigMap with each dashboard's JSON text under its file name, for the Grafana sidecar."""
    if not dashboards:
        raise GenerateError("no dashboard to put in the ConfigMap")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{NAME}-dashboards",
            "labels": {**LABELS, DASHBOARD_SIDECAR_LABEL: "1"},
            "annotations": {DASHBOARD_FOLDER_ANNOTATION: folder},
        },
        "data": dict(sorted(dashboards.items())),
    }


def compose_scrape_config(
    config: Mapping[str, Any], targets: Mapping[str, Sequence[str]] = COMPOSE_TARGETS
) -> dict[str, Any]:
    """The scrape config with every job's static targets replaced by the compose services."""
    result = copy.deepcopy(dict(config))
    jobs = result.get("scrape_configs") or []
    names = [job.get("job_name") for job in jobs]
    if sorted(map(str, names)) != sorted(targets):
        raise GenerateError(
            f"prometheus.yml has the jobs {names}; give each its compose targets "
            f"in COMPOSE_TARGETS of deploy/generate.py (now {sorted(targets)})"
        )
    for job in jobs:
        job["static_configs"] = [{"targets": list(targets[job["job_name"]])}]
    return result


class _Dumper(yaml.SafeDumper):
    """Block style everywhere; strings of several lines as literal blocks, as people write them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def render(document: Mapping[str, Any], source: str) -> str:
    """YAML text of a generated document, headed by where it comes from."""
    header = (
        f"# Generated from {source} by `make k8s` (deploy/generate.py): do not edit.\n"
        "# tests/deploy/test_generated.py fails when it is out of date.\n"
    )
    body = yaml.dump(
        dict(document),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=10_000,  # long strings stay on one line, as in the sources
    )
    return header + body


def _load_yaml(root: Path, path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load((root / path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise GenerateError(f"{path}: {error}") from None
    if not isinstance(document, dict):
        raise GenerateError(f"{path}: not a YAML mapping")
    return document


def outputs(root: Path = ROOT) -> dict[Path, str]:
    """Every derived file (path relative to `root`) and the text it must have."""
    dashboards = {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted((root / DASHBOARDS).glob("*.json"))
    }
    return {
        PROMETHEUS_RULE: render(prometheus_rule(_load_yaml(root, ALERTS)), str(ALERTS)),
        DASHBOARD_CONFIGMAP: render(dashboard_configmap(dashboards), f"{DASHBOARDS}/*.json"),
        COMPOSE_SCRAPE_CONFIG: render(
            compose_scrape_config(_load_yaml(root, SCRAPE_CONFIG)), str(SCRAPE_CONFIG)
        ),
    }


def stale(root: Path = ROOT) -> list[Path]:
    """The derived files whose committed text differs from a fresh generation."""
    return [
        path
        for path, text in outputs(root).items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text
    ]


def write(root: Path = ROOT) -> list[Path]:
    """Write every derived file that changed; return those written."""
    written = stale(root)
    for path, text in outputs(root).items():
        if path in written:
            (root / path).write_text(text, encoding="utf-8")
    return written


def main(argv: Sequence[str] | None = None, root: Path = ROOT) -> int:
    """Generate (or with --check, compare); exit 1 when --check finds a stale file."""
    parser = argparse.ArgumentParser(prog="deploy/generate.py", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    try:
        changed = stale(root) if args.check else write(root)
    except GenerateError as error:
        print(f"deploy/generate.py: {error}", file=sys.stderr)
        return 2
    for path in changed:
        verb = "out of date (run `make k8s`)" if args.check else "written"
        print(f"{path}: {verb}", file=sys.stderr if args.check else sys.stdout)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())

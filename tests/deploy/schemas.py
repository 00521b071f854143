"""Validate Kubernetes objects: built-in kinds with kubernetes-validate, CRDs with deploy/schemas.

kubernetes-validate ships the JSON schemas of every Kubernetes release (its "strict" variant
refuses unknown fields, as `kubectl apply --validate=strict` does). For the KEDA and
Prometheus-operator kinds the OpenAPI v3 schemas of their CRDs (vendored in deploy/schemas) are
turned into JSON Schema, closed the same way: an object that lists its properties accepts no
other, unless the CRD says it preserves unknown fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.deploy.support import DEPLOY

CRD_DIRECTORY = DEPLOY / "schemas"
OLDEST_KUBERNETES = "1.30.0"
"""The oldest Kubernetes release the manifests are checked against (docs/deployment.md)."""


def kubernetes_versions() -> list[str]:
    """The versions to validate against: the oldest supported and the newest packaged."""
    return [OLDEST_KUBERNETES, kubernetes_validate.latest_version()]


def closed(schema: Any) -> Any:
    """An OpenAPI v3 (CRD) schema as JSON Schema that refuses unknown fields."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    if "properties" in schema:  # property names are data here, not schemas: keep them as they are
        result["properties"] = {name: closed(sub) for name, sub in schema["properties"].items()}
    if result.pop("nullable", False) and "type" in result:
        result["type"] = [result["type"], "null"]
    preserves = result.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in result and "additionalProperties" not in result and not preserves:
        result["additionalProperties"] = False
    return result


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the closed JSON Schema of every vendored CRD version."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRD_DIRECTORY.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = closed(version["schema"]["openAPIV3Schema"])
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def _crd_errors(obj: dict[str, Any], schema: dict[str, Any]) -> Iterator[str]:
    for error in jsonschema.Draft4Validator(schema).iter_errors(obj):
        yield f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"


def validation_errors(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Every way `obj` breaks its schema; empty when it is valid. A kind without one is an error."""
    schema = crd_schemas().get((obj["apiVersion"], obj["kind"]))
    if schema is not None:
        return list(_crd_errors(obj, schema))
    try:
        kubernetes_validate.validate(obj, kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(map(str, error.absolute_path)) or "(root)"
        return [f"{path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"no schema: {error.message}; vendor its CRD in deploy/schemas"]
    return []

"""The packaged XDM catalogue agrees with the XDM reference definitions it was built from.

The catalogue (``emulator/data/xdm-catalogue.json``) is derived from the reference beside the
checkout (``shared/reference/xdm``): for each chosen class and field group, its ``$id``, title,
what it extends and its fields as the Platform names them. This test rebuilds it from the
reference and compares; it skips, saying so, where the reference is absent. To regenerate after
changing ``CHOSEN``: ``python -c "from tests.unit.test_emulator_xdm_reference import
write_catalogue; write_catalogue()"``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from emulator.xdm import EXPERIENCE_EVENT_CLASS, PROFILE_CLASS, platform_name

XDM = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "xdm"
CATALOGUE = Path(__file__).resolve().parents[2] / "emulator" / "data" / "xdm-catalogue.json"
CLASSES = (PROFILE_CLASS, EXPERIENCE_EVENT_CLASS)
CHOSEN = (
    "profile-person-details",
    "profile-personal-details",
    "profile-work-details",
    "profile-other-work-details",
    "profile-phones",
    "profile-preferences-details",
    "profile-loyalty-details",
    "profile-subscriptions",
    "profile-consents",
    "profile-privacy",
    "profile-test-profile",
    "profile-directmarketing",
    "profile-push-notification-details",
    "profile-user-account-details",
    "experienceevent-web",
    "experienceevent-commerce",
    "experienceevent-environment-details",
    "experienceevent-marketing",
    "experienceevent-channel",
    "experienceevent-application",
    "experienceevent-enduserids",
    "experienceevent-implementation-details",
    "experienceevent-search",
    "experienceevent-order-details",
    "experienceevent-segmentmembership",
    "identitymap",
)
Node = dict[str, Any]


@cache
def _documents() -> dict[str, Node]:
    documents: dict[str, Node] = {}
    for path in XDM.rglob("*.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and "$id" in document:
            documents[document["$id"]] = document
    return documents


def _resolve(ref: str, document: Node) -> tuple[Node, Node] | None:
    url, _, fragment = ref.partition("#")
    base = document if not url else _documents().get(url)
    if base is None:
        return None
    node = base
    for part in filter(None, fragment.split("/")):
        node = node[part]
    return node, base


def _leaf_type(node: Node, document: Node) -> str:
    declared = node.get("meta:xdmType")
    if isinstance(declared, str):
        return declared
    if "$ref" in node and "type" not in node:
        resolved = _resolve(node["$ref"], document)
        if resolved is not None:
            return _leaf_type(*resolved)
    kind = str(node.get("type", "object"))
    if kind == "string" and node.get("format") in ("date", "date-time"):
        return str(node["format"])
    return kind


def _merge(tree: Node, key: str, value: Any) -> None:
    if isinstance(value, dict) and isinstance(tree.get(key), dict):
        for inner_key, inner in value.items():
            _merge(tree[key], inner_key, inner)
    else:
        tree[key] = value


def _tree(node: Node, document: Node, depth: int = 0) -> Node:
    """The Platform-named field tree of a node: allOf and $ref merged, properties renamed."""
    tree: Node = {}
    if depth > 40:
        return tree
    parts = [node["$ref"]] if "$ref" in node else []
    for ref in parts:
        resolved = _resolve(ref, document)
        if resolved is not None:
            for key, value in _tree(resolved[0], resolved[1], depth + 1).items():
                _merge(tree, key, value)
    for sub in node.get("allOf", []):
        for key, value in _tree(sub, document, depth + 1).items():
            _merge(tree, key, value)
    for raw, child in node.get("properties", {}).items():
        *parents, last = platform_name(raw)
        target = tree
        for parent in parents:
            target = target.setdefault(parent, {})
        _merge(target, last, _value(child, document, depth + 1))
    return tree


def _value(node: Node, document: Node, depth: int) -> Any:
    kind = _leaf_type(node, document)
    if kind == "object":
        return _tree(node, document, depth) or "object"
    if kind == "array":
        return [_value(node.get("items", {}), document, depth)]
    return kind


def _entry(resource_id: str, kind: str) -> Node:
    document = _documents()[resource_id]
    entry: Node = {"$id": resource_id, "title": document["title"]}
    if kind == "class":
        entry["extends"] = document.get("meta:extends", [])
    else:
        entry["intendedToExtend"] = document.get("meta:intendedToExtend", [])
    entry["fields"] = _tree(document, document)
    return entry


def build_catalogue() -> Node:
    """The catalogue, rebuilt from the reference definitions."""
    by_name = {resource_id.rsplit("/", 1)[-1]: resource_id for resource_id in _documents()}
    return {
        "classes": [_entry(resource_id, "class") for resource_id in CLASSES],
        "fieldGroups": [_entry(by_name[name], "fieldgroup") for name in CHOSEN],
    }


def write_catalogue() -> None:
    """Regenerate the packaged catalogue file from the reference."""
    text = json.dumps(build_catalogue(), separators=(",", ":"))
    CATALOGUE.write_text(text + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def rebuilt() -> Node:
    """The catalogue rebuilt from the reference (skips when the reference is absent)."""
    if not (XDM / "classes" / "profile.schema.json").is_file():
        pytest.skip(f"the XDM reference is not at {XDM} (shared/reference is absent)")
    return build_catalogue()


def test_the_packaged_catalogue_is_what_the_reference_yields(rebuilt: Node) -> None:
    packaged = json.loads(
        resources.files("emulator").joinpath("data/xdm-catalogue.json").read_text("utf-8")
    )
    assert packaged == rebuilt


def test_the_reference_names_the_tutorials_destinations(rebuilt: Node) -> None:
    profile = rebuilt["classes"][0]["fields"]
    person = rebuilt["fieldGroups"][0]["fields"]["person"]
    assert profile["_id"] == "string"
    assert person["name"]["fullName"] == "string"
    assert person["birthDate"] == "date"

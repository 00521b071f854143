"""JSON Patch (RFC 6902 ``add``, ``replace``, ``remove``) as the services' PATCH takes it: pure.

Flow Service patches any field but those it assigns (``READ_ONLY``); Catalog names the fields
a patch may touch (``writable``).
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

#: Fields the service assigns; a patch may not touch them.
READ_ONLY = frozenset(
    {
        "id",
        "etag",
        "version",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "createdClient",
        "updatedClient",
        "sandboxId",
        "sandboxName",
        "imsOrgId",
        "connectionSpec",
        "flowSpec",
        "inheritedAttributes",
        "runs",
        "lastOperation",
        "baseConnectionId",
    }
)


class PatchError(ValueError):
    """A patch document that cannot be applied."""


def _pointer(path: Any, writable: Collection[str] | None) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise PatchError(f"path must be a JSON pointer, got {path!r}")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
    if not parts[0]:
        raise PatchError("path must name a field")
    refused = parts[0] not in writable if writable is not None else parts[0] in READ_ONLY
    if refused:
        raise PatchError(f"{parts[0]} cannot be changed")
    return parts


def _index(container: list[Any], part: str, *, allow_end: bool) -> int:
    if allow_end and part == "-":
        return len(container)
    if not part.isdigit():
        raise PatchError(f"{part!r} is not a list index")
    index = int(part)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"index {index} is out of range")
    return index


def _apply_one(document: dict[str, Any], operation: Any, writable: Collection[str] | None) -> None:
    if not isinstance(operation, dict):
        raise PatchError("each operation must be an object {op, path, value}")
    op = str(operation.get("op", "")).lower()
    if op not in ("add", "replace", "remove"):
        raise PatchError(f"op must be add, replace or remove, got {operation.get('op')!r}")
    if op != "remove" and "value" not in operation:
        raise PatchError(f"{op} needs a value")
    *parents, last = _pointer(operation.get("path"), writable)
    target: Any = document
    for part in parents:
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list):
            target = target[_index(target, part, allow_end=False)]
        else:
            raise PatchError(f"path {operation['path']} does not exist")
    if isinstance(target, dict):
        if op != "add" and last not in target:
            raise PatchError(f"path {operation['path']} does not exist")
        if op == "remove":
            del target[last]
        else:
            target[last] = operation["value"]
    elif isinstance(target, list):
        index = _index(target, last, allow_end=op == "add")
        if op == "add":
            target.insert(index, operation["value"])
        elif op == "replace":
            target[index] = operation["value"]
        else:
            del target[index]
    else:
        raise PatchError(f"path {operation['path']} does not exist")


def apply_patch(
    document: dict[str, Any], operations: Any, *, writable: Collection[str] | None = None
) -> dict[str, Any]:
    """A patched copy of ``document``; the original is untouched."""
    if not isinstance(operations, list) or not operations:
        raise PatchError("the body must be a non-empty JSON Patch array")
    patched = copy.deepcopy(document)
    for operation in operations:
        _apply_one(patched, operation, writable)
    return patched

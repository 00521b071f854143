"""Request files: JSON, JSON-lines or YAML, of ``DataflowRequested`` data objects or CloudEvents.

A file holds one request, a list of requests, a mapping with a ``requests`` list, one request per
line (JSON-lines) or several YAML documents. Each request is either the ``data`` object of a
``DataflowRequested`` or a whole CloudEvent (recognised by its ``specversion``). Parsing is pure
(:func:`parse_manifest`); only :func:`read_manifest` touches the file system or stdin.

A file that cannot be read or parsed, or whose items are not objects, raises
:class:`ManifestError` (a configuration error: exit code 2). Whether each object is a *valid*
request is decided later, by the message models, so every invalid one can be reported at once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import yaml

from worker.errors import ConfigurationError

Format = Literal["json", "jsonl", "yaml"]

_SUFFIXES: dict[str, Format] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".yaml": "yaml",
    ".yml": "yaml",
}


class ManifestError(ConfigurationError):
    """The request file cannot be read, parsed, or does not hold objects."""


@dataclass(frozen=True)
class ManifestItem:
    """One request read from a file: where it was, and the object found there."""

    location: str
    payload: dict[str, Any]

    @property
    def is_event(self) -> bool:
        """True for a whole CloudEvent, false for a bare ``DataflowRequested`` data object."""
        return "specversion" in self.payload

    @property
    def request_id(self) -> str | None:
        """The request id as written, when there is one (for messages about invalid items)."""
        data = self.payload.get("data") if self.is_event else self.payload
        value = data.get("request_id") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None


def detect_format(name: str, text: str) -> Format:
    """The format of a file: from its suffix, else sniffed from its content."""
    suffix = Path(name).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            json.loads(text)
        except json.JSONDecodeError:
            return "jsonl" if stripped.startswith("{") else "json"
        return "json"
    return "yaml"


def parse_manifest(text: str, *, name: str = "-", fmt: Format | None = None) -> list[ManifestItem]:
    """Parse the text of a request file into items; raise :class:`ManifestError` if unreadable."""
    fmt = fmt or detect_format(name, text)
    if fmt == "jsonl":
        return _parse_json_lines(text, name)
    if fmt == "json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ManifestError(
                f"{name}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            ) from None
        return _items(document, name)
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise ManifestError(f"{name}: not valid YAML ({_yaml_reason(error)})") from None
    if len(documents) == 1:
        return _items(documents[0], name)
    return [_item(doc, f"document {n}", name) for n, doc in enumerate(documents, start=1)]


def read_manifest(path: str, *, stdin: TextIO | None = None) -> list[ManifestItem]:
    """Read and parse a request file, or standard input when ``path`` is ``-``."""
    if path == "-":
        text = (stdin or sys.stdin).read()
        return _non_empty(parse_manifest(text, name="stdin"), "stdin")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ManifestError(f"{path}: is a directory, not a file") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise ManifestError(f"{path}: cannot read ({error.strerror})") from None
    return _non_empty(parse_manifest(text, name=path), path)


def _parse_json_lines(text: str, name: str) -> list[ManifestItem]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise ManifestError(
                f"{name}: line {number} is not valid JSON (column {error.colno}: {error.msg})"
            ) from None
        items.append(_item(value, f"line {number}", name))
    return items


def _items(document: Any, name: str) -> list[ManifestItem]:
    """The items of one parsed document: a list, a ``requests`` mapping, or a single object."""
    if isinstance(document, dict) and "requests" in document and "request_id" not in document:
        document = document["requests"]
        if not isinstance(document, list):
            raise ManifestError(f"{name}: 'requests' must be a list of objects")
    if isinstance(document, list):
        return [_item(value, f"item {n}", name) for n, value in enumerate(document, start=1)]
    return [_item(document, "item 1", name)]


def _item(value: Any, location: str, name: str) -> ManifestItem:
    if not isinstance(value, dict):
        kind = type(value).__name__ if value is not None else "null"
        raise ManifestError(f"{name}: {location} is a {kind}, not an object")
    return ManifestItem(location=location, payload={str(k): v for k, v in value.items()})


def _non_empty(items: Iterable[ManifestItem], name: str) -> list[ManifestItem]:
    result = list(items)
    if not result:
        raise ManifestError(f"{name}: holds no requests")
    return result


def _yaml_reason(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or "syntax error"
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)

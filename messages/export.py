"""Generate the JSON Schemas and the AsyncAPI 3 document from the models (`make schemas`).

`python -m messages.export` writes `messages/schemas/*.json` and `messages/asyncapi.yaml`;
`--check` writes nothing and exits 1 when a committed file differs from what the models give.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic.json_schema import models_json_schema

from messages.asyncapi import asyncapi_document
from messages.envelope import EVENT_CLASSES, PAYLOADS
from messages.versions import dataschema_for

PACKAGE = Path(__file__).resolve().parent
_VALIDATION: Literal["validation"] = "validation"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def data_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one type's `data`, identified by its dataschema URN."""
    schema = PAYLOADS[event_type].model_json_schema(mode="validation", by_alias=True)
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": dataschema_for(event_type), **schema}


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of a whole CloudEvent of one type, its `data` included."""
    schema = EVENT_CLASSES[event_type].model_json_schema(mode="validation", by_alias=True)
    identity = f"urn:dataflow-worker:event:{event_type}"
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": identity, **schema}


def component_schemas() -> dict[str, Any]:
    """Every event model and its parts as AsyncAPI component schemas, referring to each other."""
    models = [(cls, _VALIDATION) for cls in EVENT_CLASSES.values()]
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    defs: dict[str, Any] = top.get("$defs", {})
    return dict(sorted(defs.items()))


def rendered() -> dict[str, str]:
    """Every generated file, by its path relative to the package, as text."""
    files = {}
    for event_type in EVENT_CLASSES:
        files[f"schemas/{event_type}.json"] = _json(data_schema(event_type))
        files[f"schemas/{event_type}.event.json"] = _json(event_schema(event_type))
    document = asyncapi_document(component_schemas())
    files["asyncapi.yaml"] = _HEADER + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, width=100
    )
    return files


_HEADER = "# Generated from the models by `make schemas`: do not edit.\n"


def _json(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def drifted(root: Path = PACKAGE) -> list[str]:
    """The generated files under `root` that are missing or differ from what the models give."""
    out = []
    for name, text in rendered().items():
        path = root / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out


def write(root: Path = PACKAGE) -> list[str]:
    """Write every generated file under `root`; return the ones that changed."""
    changed = drifted(root)
    (root / "schemas").mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (root / name).write_text(text, encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Write the generated files, or with --check report the ones that drifted."""
    parser = argparse.ArgumentParser(prog="python -m messages.export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    args = parser.parse_args(argv)
    if args.check:
        stale = drifted()
        for name in stale:
            print(f"out of date: messages/{name} (run `make schemas`)", file=sys.stderr)
        return 1 if stale else 0
    for name in write():
        print(f"wrote messages/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Adobe's API documents as the emulator's tests read them, and exchanges checked against them.

The documents are read from ``shared/reference/adobe-openapi`` beside the checkout; ``require``
skips a test, saying where it looked, when one is absent. Where a document's schema contradicts
its own examples, the examples win (they show what the live API answers): ``ADJUSTMENTS`` lists
each such place and the change made to the schema, and a test keeps every entry honest (the
document's example breaks the schema as written and fits it as adjusted). Catalog's document
fails validation of the document itself (a duplicated parameter), so openapi-core is told not to
validate documents; YAML reads Catalog's bare status codes (``201:``) as integers, which are
turned into the strings OpenAPI keys are.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from tests.integration.spec_examples import Document

SPECS_DIR = (Path(__file__).resolve().parents[2] / ".." / "shared" / "reference").resolve()
SPECS_DIR = SPECS_DIR / "adobe-openapi"
SPEC_HOST = "https://platform.adobe.io"
#: Each document and the base path of its service.
DOCUMENTS = {
    "flow-service.yaml": "/data/foundation/flowservice",
    "catalog.yaml": "/data/foundation/catalog",
    "data-prep.yaml": "/data/foundation/conversion",
    "schema-registry.yaml": "/data/foundation/schemaregistry",
}
Json = Any
_REGISTRY = "schema-registry.yaml"  # the one Swagger 2.0 document


def require(*names: str) -> None:
    """Skip the calling test, saying so, unless every named document is present."""
    missing = [name for name in names or tuple(DOCUMENTS) if not (SPECS_DIR / name).is_file()]
    if missing:
        pytest.skip(f"Adobe's API documents {', '.join(missing)} are not at {SPECS_DIR}")


@dataclass(frozen=True)
class Adjustment:
    """A place where a document's schema contradicts its own example, and what the tests accept."""

    document: str
    what: str  # the contradiction, in a sentence
    adjust: Callable[[Json], None]  # changes the raw document in place
    example: Callable[[Json], tuple[Json, Json]]  # (schema, example) that shows the contradiction


def _schemas(raw: Json) -> dict[str, Json]:
    found: dict[str, Json] = raw.get("components", {}).get("schemas") or raw.get("definitions")
    return found


def _epoch_dates(raw: Json) -> None:
    for schema in _schemas(raw).values():
        for name in ("createdDate", "modifiedDate"):
            if schema.get("properties", {}).get(name, {}).get("type") == "string":
                schema["properties"][name] = {"type": "integer", "format": "int64"}


def _schema_path_source(raw: Json) -> None:
    _schemas(raw)["SourceType"]["enum"].append("text/x.schema-path")


def _null_errors(raw: Json) -> None:
    _schemas(raw)["ValidationResponse"]["properties"]["errors"]["nullable"] = True


def _null_next(raw: Json) -> None:
    schemas = _schemas(raw)
    schemas["linksBasic"]["properties"]["next"]["type"] = ["string", "null"]
    schemas["listResponseBasic"]["properties"]["_page"]["properties"]["next"]["type"] = [
        "string",
        "null",
    ]


def _date_string_created(raw: Json) -> None:
    for schema in _schemas(raw).values():
        for part in [schema, *schema.get("allOf", [])]:
            created = part.get("properties", {}).get("meta:createdDate")
            if isinstance(created, dict) and created.get("type") == "object":
                part["properties"]["meta:createdDate"] = {"type": "string"}


def _operation_example(path: str, method: str = "post") -> Callable[[Json], tuple[Json, Json]]:
    def pick(raw: Json) -> tuple[Json, Json]:
        """The operation's success response schema and its example."""
        responses = raw["paths"][path][method]["responses"]
        content = responses["200"]["content"]["application/json"]
        return content["schema"], content["example"]

    return pick


def _schema_example(name: str, part: Callable[[Json], Json] = lambda e: e) -> Callable[..., Any]:
    def pick(raw: Json) -> tuple[Json, Json]:
        """A named schema and (part of) its own example."""
        schema = _schemas(raw)[name]
        return schema, part(schema["example"])

    return pick


ADJUSTMENTS = (
    Adjustment(
        "data-prep.yaml",
        "createdDate and modifiedDate are typed date-time strings; every example (and the API "
        "guide) shows epoch milliseconds",
        _epoch_dates,
        _operation_example("/mappingSets"),
    ),
    Adjustment(
        "data-prep.yaml",
        "SourceType enumerates ATTRIBUTE, EXPRESSION, STATIC; stored mappings are shown with "
        "sourceType text/x.schema-path",
        _schema_path_source,
        _schema_example("MappingOperation"),
    ),
    Adjustment(
        "data-prep.yaml",
        "validationResponse[].errors is a non-nullable list; the example shows null for a "
        "mapping that validates",
        _null_errors,
        _operation_example("/mappingSets/validate"),
    ),
    Adjustment(
        "schema-registry.yaml",
        "_page.next and _links.next are typed strings; the examples show null on the last page",
        _null_next,
        _schema_example("listResponseBasic"),
    ),
    Adjustment(
        "schema-registry.yaml",
        "meta:createdDate is typed an object; the examples show a date string (2020-08-10)",
        _date_string_created,
        _schema_example("lookupFieldGroupResponse"),
    ),
)


@cache
def raw_document(name: str, *, adjusted: bool = True) -> Json:
    """A document as parsed YAML (status codes as strings), adjusted unless told otherwise."""
    raw = yaml.safe_load((SPECS_DIR / name).read_text(encoding="utf-8"))
    for operations in raw["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                responses = operation["responses"]
                operation["responses"] = {str(code): value for code, value in responses.items()}
    if adjusted:
        for adjustment in ADJUSTMENTS:
            if adjustment.document == name:
                adjustment.adjust(raw)
    return raw


def document(name: str) -> Document:
    """An adjusted document's operations and examples."""
    return Document(name, raw_document(name))


@cache
def openapi(name: str) -> Any:
    """An adjusted OpenAPI 3 document in openapi-core, pinned to the real host."""
    from openapi_core import Config, OpenAPI

    raw = copy.deepcopy(raw_document(name))
    raw["servers"] = [{"url": f"{SPEC_HOST}{DOCUMENTS[name]}"}]
    return OpenAPI.from_dict(raw, config=Config(spec_validator_cls=None))


def document_of(path: str) -> str:
    """The document of the service a request path belongs to."""
    return next(name for name, base in DOCUMENTS.items() if path.startswith(f"{base}/"))


def _mocks(response: httpx.Response) -> tuple[Any, Any]:
    from openapi_core.testing import MockRequest, MockResponse

    request = response.request
    mock_request = MockRequest(
        SPEC_HOST,
        request.method.lower(),
        request.url.path,
        args=dict(request.url.params),
        headers=dict(request.headers),
        data=request.content or None,
    )
    mock_response = MockResponse(
        response.content,
        status_code=response.status_code,
        headers=dict(response.headers),
        content_type=response.headers.get("content-type", "application/json"),
    )
    return mock_request, mock_response


def _lines(errors: Iterator[Exception]) -> list[str]:
    lines: list[str] = []
    for error in errors:
        details = getattr(error.__cause__, "schema_errors", None) or ()
        lines.extend(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in details)
        if not details:
            lines.append(f"{type(error).__name__}: {error}")
    return lines


def request_errors(response: httpx.Response) -> list[str]:
    """Every way the request of an exchange breaks its (OpenAPI 3) document; empty: it fits."""
    spec = openapi(document_of(response.request.url.path))
    mock_request, _ = _mocks(response)
    return _lines(spec.iter_request_errors(mock_request))


def response_errors(response: httpx.Response) -> list[str]:
    """Every way a response breaks its document, one line each (empty: it conforms)."""
    name = document_of(response.request.url.path)
    if name == _REGISTRY:
        return _swagger_errors(response)
    mock_request, mock_response = _mocks(response)
    return _lines(openapi(name).iter_response_errors(mock_request, mock_response))


def _swagger_errors(response: httpx.Response) -> list[str]:
    raw = raw_document(_REGISTRY)
    path = response.request.url.raw_path.decode().split("?")[0]
    path = path.removeprefix(DOCUMENTS[_REGISTRY])
    method = response.request.method.lower()
    for template, operations in raw["paths"].items():
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
        if method in operations and re.fullmatch(pattern, path):
            documented = operations[method]["responses"].get(str(response.status_code))
            if documented is None:
                return [f"status {response.status_code} is not documented for {template}"]
            schema = documented.get("schema")
            return [] if schema is None else schema_errors(_REGISTRY, schema, response.json())
    return [f"{method.upper()} {path} is not an operation of schema-registry.yaml"]


def schema_errors(name: str, schema: Json, instance: Json, *, adjusted: bool = True) -> list[str]:
    """How an instance breaks a schema of a document (OpenAPI 3.0 or Swagger 2.0 rules)."""
    raw = raw_document(name, adjusted=adjusted)
    if name == _REGISTRY:
        validator: Any = jsonschema.Draft4Validator({"definitions": _schemas(raw), **schema})
    else:
        from openapi_schema_validator import OAS30Validator

        validator = OAS30Validator({**schema, "components": raw["components"]})
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def example_errors(adjustment: Adjustment, *, adjusted: bool) -> list[str]:
    """How an adjustment's example breaks its schema, in the document as written or adjusted."""
    schema, example = adjustment.example(raw_document(adjustment.document, adjusted=adjusted))
    return schema_errors(adjustment.document, schema, example, adjusted=adjusted)

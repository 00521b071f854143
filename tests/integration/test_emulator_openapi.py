"""The tutorial's sequence against the emulator, validated against Adobe's OpenAPI specs.

The specs are read from ``shared/reference/adobe-openapi`` beside the checkout; the test skips,
saying so, where they are absent. Schema Registry's spec is Swagger 2.0 and is left out.
Catalog's spec fails strict validation of the document itself (a duplicated parameter), so the
validator is told not to validate the spec documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from emulator.specs import CRM_TO_AEP_ID, DATA_LAKE_SPEC_ID, XED_FULL_V1
from emulator.testing import MARIADB_SPEC_ID, PERSON_FIELD_GROUP, PROFILE_CLASS, running_emulator

pytestmark = pytest.mark.integration

SPECS_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "adobe-openapi"
SERVICES = {
    "/data/foundation/flowservice/": "flow-service.yaml",
    "/data/foundation/catalog/": "catalog.yaml",
    "/data/foundation/conversion/": "data-prep.yaml",
}
HOST = "//platform.adobe.io"  # the specs' servers are protocol-relative: //{environment}.adobe.io
FS = "/data/foundation/flowservice"


def _string_status_codes(document: dict[str, Any]) -> dict[str, Any]:
    """Catalog's spec writes status codes unquoted (``201:``), which YAML reads as integers."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                responses = operation["responses"]
                operation["responses"] = {str(code): value for code, value in responses.items()}
    return document


def _as_examples_show(document: dict[str, Any]) -> dict[str, Any]:
    """Where Data Prep's spec contradicts its own examples, accept what the examples show:
    ``createdDate``/``modifiedDate`` are typed date-time strings but shown (here and in the
    tutorial's response) as epoch milliseconds; stored mappings are shown with ``sourceType``
    ``text/x.schema-path``, which the ``SourceType`` enum leaves out."""
    schemas = document.get("components", {}).get("schemas", {})
    for schema in schemas.values():
        for name, prop in schema.get("properties", {}).items():
            if name in ("createdDate", "modifiedDate") and prop.get("type") == "string":
                schema["properties"][name] = {"type": "integer", "format": "int64"}
    source_type = schemas.get("SourceType", {})
    if "enum" in source_type:
        source_type["enum"] = [*source_type["enum"], "text/x.schema-path"]
    return document


@cache
def load_spec(name: str) -> OpenAPI:
    """An Adobe spec, adjusted where it contradicts its own examples, not validated itself."""
    document = yaml.safe_load((SPECS_DIR / name).read_text(encoding="utf-8"))
    document = _as_examples_show(_string_status_codes(document))
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


@dataclass
class SpecRequest:
    """An exchanged request in the shape openapi-core reads."""

    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    content_type: str
    body: bytes | None


@dataclass
class SpecResponse:
    """An exchanged response in the shape openapi-core reads."""

    status_code: int
    content_type: str
    headers: Headers
    data: bytes


def _media_type(headers: httpx.Headers) -> str:
    value: str = headers.get("content-type", "application/json")
    return value.split(";")[0].strip()


def as_spec_exchange(response: httpx.Response) -> tuple[SpecRequest, SpecResponse]:
    """An httpx exchange in the request and response shapes openapi-core reads."""
    sent = response.request
    parameters = RequestParameters(
        query=ImmutableMultiDict(list(sent.url.params.multi_items())),
        header=Headers(list(sent.headers.items())),
        cookie=ImmutableMultiDict(),
    )
    request = SpecRequest(
        HOST, sent.url.path, sent.method.lower(), parameters, _media_type(sent.headers),
        sent.content or None,
    )  # fmt: skip
    answer = SpecResponse(
        response.status_code,
        _media_type(response.headers),
        Headers(list(response.headers.items())),
        response.content,
    )
    return request, answer


def validate(response: httpx.Response, *, check_request: bool = True) -> Any:
    """Validate one exchange against its service's spec; returns the response's JSON."""
    spec_name = next(
        name for prefix, name in SERVICES.items() if response.url.path.startswith(prefix)
    )
    spec = load_spec(spec_name)
    request, answer = as_spec_exchange(response)
    if check_request:
        spec.validate_request(request)
    spec.validate_response(request, answer)
    return response.json()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """A client with the Platform headers on a running emulator, skipping without the specs."""
    if not all((SPECS_DIR / name).is_file() for name in SERVICES.values()):
        pytest.skip(f"Adobe's OpenAPI specs are not at {SPECS_DIR.resolve()}")
    with running_emulator() as emu, emu.client() as client:
        client.headers["x-test-base-connection"] = emu.create_base_connection(MARIADB_SPEC_ID)
        yield client


def test_the_tutorials_sequence_answers_as_adobes_specs_say(http: httpx.Client) -> None:
    base_id = http.headers["x-test-base-connection"]
    validate(http.get(f"{FS}/connections/{base_id}"))
    columns = [
        {"name": "TestID", "type": "string", "xdm": {"type": "string"}},
        {"name": "Name", "type": "string", "xdm": {"type": "string"}},
        {
            "name": "Datefield",
            "type": "string",
            "meta:xdmType": "date-time",
            "xdm": {"type": "string", "format": "date-time"},
        },
    ]
    source = {
        "name": "Database source connection",
        "baseConnectionId": base_id,
        "description": "Database source connection",
        "data": {"format": "tabular"},
        "params": {"tableName": "test1.Mytable", "columns": columns},
        "connectionSpec": {"id": MARIADB_SPEC_ID, "version": "1.0"},
    }
    source_id = validate(http.post(f"{FS}/sourceConnections", json=source))["id"]
    validate(http.get(f"{FS}/sourceConnections/{source_id}"))

    schema = {
        "type": "object",
        "title": "Tutorial schema (openapi test)",
        "description": "the tutorial's target schema",
        "allOf": [{"$ref": PROFILE_CLASS}, {"$ref": PERSON_FIELD_GROUP}],
    }
    created = http.post("/data/foundation/schemaregistry/tenant/schemas", json=schema)
    assert created.status_code == 201, created.text
    schema_id = created.json()["$id"]

    dataset = {
        "name": "Tutorial dataset",
        "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed+json;version=1"},
    }
    dataset_ref = validate(http.post("/data/foundation/catalog/dataSets", json=dataset))
    dataset_id = dataset_ref[0].rsplit("/", 1)[-1]
    validate(http.get(f"/data/foundation/catalog/dataSets/{dataset_id}"))

    target = {
        "name": "Database target connection",
        "description": "Database target connection",
        "data": {"schema": {"id": schema_id, "version": XED_FULL_V1}},
        "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": "1.0"},
    }
    target_id = validate(http.post(f"{FS}/targetConnections", json=target))["id"]
    validate(http.get(f"{FS}/targetConnections/{target_id}"))

    mapping = {
        "version": 0,
        "xdmSchema": schema_id,
        "xdmVersion": "1.0",
        "id": None,
        "mappings": [
            {
                "destinationXdmPath": destination,
                "sourceAttribute": source_column,
                "identity": False,
                "identityGroup": None,
                "namespaceCode": None,
                "version": 0,
            }
            for source_column, destination in (
                ("TestID", "_id"),
                ("Name", "person.name.fullName"),
                ("Datefield", "person.birthDate"),
            )
        ],
    }
    # The tutorial's legacy body sends "id": null, which the spec does not allow: the request
    # is left unchecked, the response is checked.
    created_mapping = http.post("/data/foundation/conversion/mappingSets", json=mapping)
    mapping_id = validate(created_mapping, check_request=False)["id"]
    validate(http.get(f"/data/foundation/conversion/mappingSets/{mapping_id}"))

    specs = validate(http.get(f"{FS}/flowSpecs", params={"property": 'name=="CRMToAEP"'}))
    assert specs["items"][0]["id"] == CRM_TO_AEP_ID

    flow = {
        "name": "Database dataflow using MariaDB",
        "description": "collecting test1.Mytable",
        "flowSpec": {"id": CRM_TO_AEP_ID, "version": "1.0"},
        "sourceConnectionIds": [source_id],
        "targetConnectionIds": [target_id],
        "transformations": [
            {
                "name": "Copy",
                "params": {
                    "deltaColumn": {
                        "name": "Datefield",
                        "dateFormat": "YYYY-MM-DD",
                        "timezone": "UTC",
                    }
                },
            },
            {"name": "Mapping", "params": {"mappingId": mapping_id, "mappingVersion": 0}},
        ],
        "scheduleParams": {
            "startTime": "1612310466",
            "frequency": "minute",
            "interval": "15",
            "backfill": "true",
        },
    }
    flow_id = validate(http.post(f"{FS}/flows", json=flow), check_request=False)["id"]
    validate(http.get(f"{FS}/flows/{flow_id}"))
    validate(http.get(f"{FS}/flows", params={"property": f"id=={flow_id}"}))


def test_spec_and_connection_lists_answer_as_adobes_specs_say(http: httpx.Client) -> None:
    validate(http.get(f"{FS}/connectionSpecs"))
    validate(http.get(f"{FS}/connectionSpecs/{MARIADB_SPEC_ID}"))
    validate(http.get(f"{FS}/flowSpecs/{CRM_TO_AEP_ID}"))
    validate(http.get(f"{FS}/connections", params={"limit": 1}))
    validate(http.get(f"{FS}/sourceConnections"))
    validate(http.get(f"{FS}/targetConnections"))

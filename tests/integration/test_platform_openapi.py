"""Every request the client sends for a full dataflow validates against Adobe's OpenAPI specs.

The requests are captured with an httpx event hook on the real client while it talks to the
emulator. Flow Service, Catalog and Data Prep are OpenAPI 3 and go through openapi-core (told
not to validate Adobe's documents themselves: catalog.yaml has a duplicated parameter). The
Schema Registry document is Swagger 2.0, which openapi-core does not read: its operations are
matched by hand and bodies validated with jsonschema against the document's definitions.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.request.exceptions import RequestValidationError
from werkzeug.datastructures import Headers, ImmutableMultiDict

from emulator.testing import MARIADB_SPEC_ID, Emulator, running_emulator
from messages.models import DataflowRequested
from tests.integration.platform_support import client_for, create_dataflow
from worker.platform import bodies
from worker.platform.http import build_http_transport

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "adobe-openapi"
FOUNDATION = "/data/foundation/"
OPENAPI3 = {
    "flowservice": "flow-service.yaml",
    "catalog": "catalog.yaml",
    "conversion": "data-prep.yaml",
}
HOST = "https://platform.adobe.io"


def spec_document(file_name: str) -> dict[str, Any]:
    """One of Adobe's spec documents, or a visible skip when the references are absent."""
    path = SPECS / file_name
    if not path.is_file():
        pytest.skip(f"Adobe's OpenAPI specs are not at {SPECS} (shared/reference is absent)")
    return _load(str(path))


@cache
def _load(path: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return document


@cache
def _openapi(service: str) -> OpenAPI:
    document = copy.deepcopy(spec_document(OPENAPI3[service]))
    # The documents name the host as a template (`//{environment}.adobe.io/...`); pin it.
    document["servers"] = [{"url": f"{HOST}{FOUNDATION}{service}"}]
    if service == "flowservice":
        _as_the_guides_send(document)
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


def _as_the_guides_send(document: dict[str, Any]) -> None:
    """Where flow-service.yaml contradicts Adobe's own guides, take what the guides send.

    The update tutorial (help/sources/tutorials/api/update-dataflows.md) patches a flow with
    lower-case ops and string values (`PatchInstruction` types `op` as an upper-case enum and
    `value` as an object); the dataflow guides enable and disable a flow with
    `/flows/{id}/action?op=...` alone (the document makes `subOp` required).
    """
    instruction = document["components"]["schemas"]["PatchInstruction"]["properties"]
    instruction["op"]["enum"] += [op.lower() for op in instruction["op"]["enum"]]
    instruction["value"] = {}
    action = document["paths"]["/flows/{FLOW_ID}/action"]["post"]
    for parameter in action["parameters"]:
        if parameter.get("name") == "subOp":
            parameter["required"] = False


class CapturedRequest:
    """An httpx request as openapi-core reads one, moved to the real Platform host."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        """The real Platform host the specs describe."""
        return HOST

    @property
    def path(self) -> str:
        """The path as sent."""
        return self._request.url.path

    @property
    def method(self) -> str:
        """The method, lower-case."""
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        """The body as sent, or None."""
        return self._request.content or None

    @property
    def content_type(self) -> str:
        """The Content-Type as sent."""
        return str(self._request.headers.get("content-type", "application/json"))


def _swagger_operation(document: dict[str, Any], request: httpx.Request) -> dict[str, Any]:
    """The Swagger 2.0 operation a Schema Registry request is an instance of."""
    raw_path = request.url.raw_path.decode().split("?", 1)[0]
    relative = raw_path.removeprefix(document["basePath"])
    method = request.method.lower()
    candidates = []
    for template, operations in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if method in operations and re.match(pattern, relative):
            literal = len(re.sub(r"\{[^}]+\}", "", template))
            candidates.append((literal, operations[method]))
    assert candidates, f"no Schema Registry operation for {method.upper()} {relative}"
    operation: dict[str, Any] = max(candidates, key=lambda pair: pair[0])[1]
    return operation


def _swagger_parameters(
    document: dict[str, Any], operation: dict[str, Any]
) -> list[dict[str, Any]]:
    resolved = []
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            name = parameter["$ref"].rsplit("/", 1)[-1]
            parameter = document["parameters"][name]
        resolved.append(parameter)
    return resolved


def validate_schema_registry(request: httpx.Request) -> None:
    """Check a Schema Registry request's headers, query names and body against the document."""
    document = spec_document("schema-registry.yaml")
    operation = _swagger_operation(document, request)
    parameters = _swagger_parameters(document, operation)
    query = {key for key, _ in parse_qsl(request.url.query.decode())}
    declared_query = {p["name"] for p in parameters if p["in"] == "query"}
    assert query <= declared_query, f"undeclared query parameters {query - declared_query}"
    for parameter in parameters:
        if parameter["in"] == "header" and parameter.get("required"):
            assert parameter["name"] in request.headers, f"missing header {parameter['name']}"
        if parameter["in"] == "body":
            schema = {**parameter["schema"], "definitions": document["definitions"]}
            jsonschema.validate(json.loads(request.content), schema)


def validate(request: httpx.Request) -> None:
    """Validate one captured Platform request against the spec of its service."""
    service = request.url.path.removeprefix(FOUNDATION).split("/", 1)[0]
    if service == "schemaregistry":
        validate_schema_registry(request)
    else:
        with warnings.catch_warnings():  # Data Prep's list parameters still declare it
            warnings.filterwarnings("ignore", "Use of allowEmptyValue", DeprecationWarning)
            _openapi(service).validate_request(CapturedRequest(request))


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A fresh emulator for one test."""
    with running_emulator() as emulator:
        yield emulator


class Capturing(httpx.AsyncBaseTransport):
    """A transport that keeps every request it sends."""

    def __init__(self, real: httpx.AsyncBaseTransport, captured: list[httpx.Request]) -> None:
        self._real = real
        self._captured = captured

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Keep the request, then send it."""
        self._captured.append(request)
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the real transport."""
        await self._real.aclose()


async def full_dataflow(emu: Emulator, captured: list[httpx.Request], **changes: Any) -> None:
    """Create, find, read and delete a whole dataflow, capturing every request sent."""

    http = Capturing(build_http_transport(pool_size=4), captured)
    data: dict[str, Any] = {
        "request_id": f"r-{uuid.uuid4().hex[:8]}",
        "name": 'crm "orders", *all* & more',
        "source": {
            "connector": "mariadb",
            "base_connection_id": emu.create_base_connection(MARIADB_SPEC_ID),
            "table": "crm.orders",
            "columns": [
                {
                    "name": "id",
                    "type": "bigint",
                    "xdm": {"type": "integer"},
                    "meta_xdm_type": "long",
                },
                {"name": "email", "type": "varchar", "xdm": {"type": "string"}},
                {
                    "name": "tags",
                    "type": "json",
                    "xdm": {"type": "array", "items": {"type": "string"}},
                },
                {
                    "name": "changed",
                    "type": "datetime",
                    "xdm": {"type": "string", "format": "date-time"},
                },
            ],
        },
        "delta_column": {"name": "changed"},
        "schedule": {
            "frequency": "hour",
            "interval": 2,
            "start_time": 1764400000,
            "backfill": True,
        },
        **changes,
    }
    request = DataflowRequested.model_validate(data)
    async with client_for(emu, http=http) as client:
        await client.get_base_connection(None, request.source.base_connection_id)
        created = await create_dataflow(client, request)
        source, group, schema, dataset = (
            created.source,
            created.group,
            created.schema,
            created.dataset,
        )
        target, mapping, flow = created.target, created.mapping, created.flow
        if group is not None:
            await client.find_field_group(None, bodies.resource_name(request, "field group"))
            await client.get_field_group(None, group)
        assert await client.find_source_connection(None, bodies.resource_name(request, "source"))
        assert await client.find_dataset(None, bodies.resource_name(request, "dataset"))
        assert await client.find_target_connection(None, bodies.resource_name(request, "target"))
        assert await client.find_flow(None, bodies.resource_name(request, "flow"))
        assert await client.find_schema(None, bodies.schema_title(request)) is not None
        await client.get_source_connection(None, source)
        await client.get_schema(None, schema)
        await client.get_dataset(None, dataset)
        await client.get_target_connection(None, target)
        await client.get_mapping_set(None, mapping.id)
        found = await client.find_mapping_set(None, schema, None, since=time.time())
        assert found is not None
        assert found["id"] == mapping.id
        await client.get_flow(None, flow)
        await client.runs(None, flow)
        _, etag = await client.flow_with_etag(None, flow)
        change = [{"op": "replace", "path": "/description", "value": "patched"}]
        await client.patch_flow(None, flow, change, etag)
        await client.flow_action(None, flow, "disable")
        await client.flow_action(None, flow, "enable")
        assert await client.target_connections_using_dataset(None, dataset)
        await client.delete_flow(None, flow)
        await client.delete_target_connection(None, target)
        await client.delete_dataset(None, dataset)
        await client.delete_schema(None, schema)
        if group is not None:
            await client.delete_field_group(None, group)
        await client.delete_source_connection(None, source)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(
            {
                "mappings": [
                    {"source": "id", "destination": "_id"},
                    {"source": "email", "destination": "personalEmail.address"},
                ]
            },
            id="explicit",
        ),
        pytest.param({"mapping_mode": "auto"}, id="auto"),
        pytest.param(
            {"mapping_mode": "auto", "schedule": {"frequency": "once", "start_time": 1764400000}},
            id="auto-once",
        ),
    ],
)
async def test_every_request_of_a_full_dataflow_validates_against_the_specs(
    emu: Emulator, changes: dict[str, Any]
) -> None:
    spec_document("flow-service.yaml")  # skip visibly before doing any work
    captured: list[httpx.Request] = []
    await full_dataflow(emu, captured, **changes)
    platform = [r for r in captured if r.url.path.startswith(FOUNDATION)]
    services = {r.url.path.removeprefix(FOUNDATION).split("/", 1)[0] for r in platform}
    assert services == {"flowservice", "schemaregistry", "catalog", "conversion"}
    posts = sorted(r.url.path.rsplit("/", 1)[-1] for r in platform if r.method == "POST")
    expected = [
        "action",  # disable
        "action",  # enable
        "dataSets",
        "flows",
        "mappingSets",
        "schemas",
        "sourceConnections",
        "targetConnections",
    ]
    if changes.get("mapping_mode") == "auto":
        expected = sorted([*expected, "fieldgroups"])
    assert posts == expected
    for request in platform:
        validate(request)


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        pytest.param(
            "conversion/mappingSets",
            {"xdmSchema": "s", "xdmVersion": "1.0", "id": None, "mappings": []},
            RequestValidationError,
            id="legacy-mapping-set",
        ),
        pytest.param(
            "flowservice/flows",
            {
                "flowSpec": {"id": "x", "version": "1.0"},
                "transformations": [
                    {"name": "Mapping", "params": {"mappingId": "m", "mappingVersion": 0}}
                ],
            },
            RequestValidationError,
            id="integer-mapping-version",
        ),
        pytest.param(
            "schemaregistry/tenant/schemas",
            {"type": "object", "title": "t", "description": "d"},
            jsonschema.ValidationError,
            id="schema-without-allOf",
        ),
    ],
)
def test_the_validator_refuses_the_bodies_the_specs_forbid(
    path: str, body: dict[str, Any], error: type[Exception]
) -> None:
    headers = {
        "Authorization": "Bearer x",
        "x-api-key": "k",
        "x-gw-ims-org-id": "o",
        "x-sandbox-name": "prod",
    }
    request = httpx.Request("POST", f"{HOST}{FOUNDATION}{path}", json=body, headers=headers)
    with pytest.raises(error):
        validate(request)

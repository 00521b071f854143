"""Shared pieces of the Schema Registry, Catalog and Data Prep emulator tests.

Each test talks to one emulator per module over real HTTP, in an IMS org of its own, so tests
never see each other's resources; ``api`` is that org's client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml

from emulator.testing import Emulator, running_emulator

REGISTRY = "/data/foundation/schemaregistry"
CATALOG = "/data/foundation/catalog"
CONVERSION = "/data/foundation/conversion"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
EXPERIENCE_EVENT = "https://ns.adobe.com/xdm/context/experienceevent"
PERSON_DETAILS = "https://ns.adobe.com/xdm/context/profile-person-details"
PERSONAL_DETAILS = "https://ns.adobe.com/xdm/context/profile-personal-details"
WORK_DETAILS = "https://ns.adobe.com/xdm/context/profile-work-details"
LOOKUP = "application/vnd.adobe.xed+json; version=1"
LIST_IDS = "application/vnd.adobe.xed-id+json"
REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"


class PlatformApi:
    """One IMS org's view of the emulator: the four Platform headers on every request."""

    def __init__(self, emulator: Emulator, org: str, sandbox: str = "prod") -> None:
        self.emulator = emulator
        self.org = org
        self.sandbox = sandbox
        self.tenant = org.split("@", 1)[0].lower()
        self._http = httpx.Client(base_url=emulator.url, timeout=30)

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def request(
        self, method: str, path: str, *, accept: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request with the Platform headers (plus ``Accept`` when given)."""
        headers = self.emulator.headers(self.sandbox, self.org)
        if accept is not None:
            headers["Accept"] = accept
        headers.update(kwargs.pop("headers", {}))
        return self._http.request(method, path, headers=headers, **kwargs)

    def create_field_group(self, title: str, fields: dict[str, Any], **extra: Any) -> str:
        """Create a tenant field group with ``fields`` under ``_<tenant>``; its ``$id``."""
        body = field_group_body(self.tenant, title, fields, **extra)
        response = self.request("POST", f"{REGISTRY}/tenant/fieldgroups", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["$id"])

    def create_schema(self, title: str, *refs: str) -> dict[str, Any]:
        """Create a tenant schema of ``refs`` (class first); the full response."""
        body = schema_body(title, *refs)
        response = self.request("POST", f"{REGISTRY}/tenant/schemas", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def lookup(self, kind: str, ref: str, accept: str = LOOKUP) -> httpx.Response:
        """``GET /tenant/<kind>/<URL-encoded ref>``."""
        return self.request("GET", f"{REGISTRY}/tenant/{kind}/{quote(ref, safe='')}", accept=accept)

    def create_dataset(self, name: str, schema_id: str) -> str:
        """Create a dataset of a schema; its id."""
        body = dataset_body(name, schema_id)
        response = self.request("POST", f"{CATALOG}/dataSets", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()[0].rsplit("/", 1)[-1])


def field_group_body(
    tenant: str, title: str, fields: dict[str, Any], *, extends: tuple[str, ...] = (PROFILE,)
) -> dict[str, Any]:
    """A tenant field group body with ``fields`` (JSON Schema properties) under ``_<tenant>``."""
    return {
        "type": "object",
        "title": title,
        "description": "test field group",
        "meta:intendedToExtend": list(extends),
        "definitions": {
            "customFields": {"properties": {f"_{tenant}": {"type": "object", "properties": fields}}}
        },
        "allOf": [{"$ref": "#/definitions/customFields"}],
    }


def schema_body(title: str, *refs: str) -> dict[str, Any]:
    """A schema body composing ``refs``."""
    return {
        "type": "object",
        "title": title,
        "description": "test schema",
        "allOf": [{"$ref": ref} for ref in refs],
    }


def dataset_body(name: str, schema_id: str) -> dict[str, Any]:
    """The tutorial's dataset body."""
    return {
        "name": name,
        "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed+json;version=1"},
    }


def unique_org() -> str:
    """A fresh IMS org id (its tenant id is the lowercase part before ``@``)."""
    return f"T{uuid.uuid4().hex[:20].upper()}@AdobeOrg"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the test module."""
    with running_emulator() as emu:
        yield emu


@pytest.fixture
def api(emulator: Emulator) -> Iterator[PlatformApi]:
    """A client in an org of its own."""
    client = PlatformApi(emulator, unique_org())
    yield client
    client.close()


def assert_platform_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check a service error's shape and ``<SVC>-<code>-<status>`` type; the body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"].endswith(f"/{code}-{status}"), body["type"]
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["report"]["detailed-message"], str)
    return body


SPEC_HOST = "https://platform.adobe.io"


def adobe_openapi(file_name: str, service: str) -> Any:
    """Adobe's OpenAPI 3 document for a service, pinned to the real host (skips when absent).

    openapi-core is told not to validate the document itself: catalog.yaml fails that check
    (a duplicated parameter) although its operations are usable.
    """
    from openapi_core import Config, OpenAPI

    path = REFERENCE / "adobe-openapi" / file_name
    if not path.is_file():
        pytest.skip(f"Adobe's OpenAPI specs are not at {path.parent} (shared/reference is absent)")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML reads status codes written bare (`201:`) as integers; OpenAPI keys are strings.
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                responses = operation["responses"]
                operation["responses"] = {str(key): value for key, value in responses.items()}
    document["servers"] = [{"url": f"{SPEC_HOST}/data/foundation/{service}"}]
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


def response_errors(spec: Any, response: httpx.Response) -> list[str]:
    """Every way an emulator response breaks Adobe's spec, one line each (empty: it conforms)."""
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
    lines: list[str] = []
    for error in spec.iter_response_errors(mock_request, mock_response):
        details = getattr(error.__cause__, "schema_errors", None) or ()
        lines.extend(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in details)
        if not details:
            lines.append(f"{type(error).__name__}: {error}")
    return lines

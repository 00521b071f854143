"""Shared pieces of the Schema Registry, Catalog and Data Prep emulator tests.

Each test talks to one emulator per module over real HTTP, in an IMS org of its own, so tests
never see each other's resources; ``api`` is that org's client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

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

"""Shared helpers of the Flow Service tests: bodies, the resource chain a flow needs, fixtures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.specs import CRM_TO_AEP_ID, DATA_LAKE_SPEC_ID, XED_FULL_V1
from emulator.testing import MARIADB_SPEC_ID, Emulator, running_emulator

FS = "/data/foundation/flowservice"


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def source_body(base_id: str, spec_id: str = MARIADB_SPEC_ID, **extra: Any) -> dict[str, Any]:
    """A table source connection body for a base connection."""
    columns = [{"name": "id", "type": "string", "xdm": {"type": "string"}}]
    return {
        "name": unique("source"),
        "baseConnectionId": base_id,
        "data": {"format": "tabular"},
        "params": {"tableName": "crm.lead", "columns": columns},
        "connectionSpec": {"id": spec_id, "version": "1.0"},
        **extra,
    }


def target_body(schema_id: str, dataset_id: str, version: str = XED_FULL_V1) -> dict[str, Any]:
    """A data lake target connection body for a dataset of a schema."""
    return {
        "name": unique("target"),
        "data": {"schema": {"id": schema_id, "version": version}},
        "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": "1.0"},
    }


def created_id(response: httpx.Response) -> str:
    """The id of a created resource, after checking the 201."""
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class Chain:
    """The resources a flow needs, created through the emulator's APIs."""

    def __init__(self, emu: Emulator, http: httpx.Client) -> None:
        self.base_id = emu.create_base_connection(MARIADB_SPEC_ID)
        self.schema_id, self.dataset_id = emu.create_schema_and_dataset(unique("schema"))
        self.mapping_id = emu.create_mapping_set(self.schema_id, {"id": "_id"})
        self.source_id = created_id(
            http.post(f"{FS}/sourceConnections", json=source_body(self.base_id))
        )
        target = target_body(self.schema_id, self.dataset_id)
        self.target_id = created_id(http.post(f"{FS}/targetConnections", json=target))

    def flow_body(self, **overrides: Any) -> dict[str, Any]:
        """A valid flow body over the chain, with fields replaced by ``overrides``."""
        body: dict[str, Any] = {
            "name": unique("flow"),
            "flowSpec": {"id": CRM_TO_AEP_ID, "version": "1.0"},
            "sourceConnectionIds": [self.source_id],
            "targetConnectionIds": [self.target_id],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}},
                {"name": "Mapping", "params": {"mappingId": self.mapping_id, "mappingVersion": 0}},
            ],
            "scheduleParams": {
                "startTime": "1612310466",
                "frequency": "minute",
                "interval": "15",
                "backfill": "true",
            },
        }
        body.update(overrides)
        return body


def error_type(response: httpx.Response) -> str:
    """The ``<SVC>-<code>-<status>`` part of a service error's type."""
    return str(response.json()["type"]).rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """One emulator for the module; tests isolate themselves by unique names."""
    with running_emulator(sandboxes=("dev",)) as running:
        yield running


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    """A client with the Platform headers."""
    with emu.client() as client:
        yield client


@pytest.fixture
def chain(emu: Emulator, http: httpx.Client) -> Chain:
    """Everything a flow needs, freshly created."""
    return Chain(emu, http)

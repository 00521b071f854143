"""The tutorial's sequence against the emulator, validated against Adobe's OpenAPI specs.

The documents come from ``adobe_specs`` (which skips, saying so, where they are absent, and
adjusts them where they contradict their own examples). Schema Registry's document is Swagger
2.0; its answers are checked in test_emulator_schemaregistry_openapi.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.specs import CRM_TO_AEP_ID, DATA_LAKE_SPEC_ID, XED_FULL_V1
from emulator.testing import MARIADB_SPEC_ID, PERSON_FIELD_GROUP, PROFILE_CLASS, running_emulator
from tests.integration.adobe_specs import request_errors, require, response_errors

pytestmark = pytest.mark.integration

FS = "/data/foundation/flowservice"


def validate(response: httpx.Response, *, check_request: bool = True) -> Any:
    """Check one exchange against its service's document; the response's JSON."""
    if check_request:
        assert request_errors(response) == [], response.request.url
    assert response_errors(response) == [], response.request.url
    return response.json()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """A client with the Platform headers on a running emulator, skipping without the specs."""
    require("flow-service.yaml", "catalog.yaml", "data-prep.yaml")
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

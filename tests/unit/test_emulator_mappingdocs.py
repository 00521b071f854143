"""Mapping set bodies in both dialects and their stored shape (pure)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from emulator.mappingdocs import (
    MappingSetError,
    Stamp,
    build_mapping_set,
    read_request,
    summary,
)

SCHEMA = "https://ns.adobe.com/acme/schemas/1"
OUTPUT = {
    "outputSchema": {
        "schemaRef": {"id": SCHEMA, "contentType": "application/vnd.adobe.xed+json;version=1"}
    },
    "mappings": [{"sourceType": "ATTRIBUTE", "source": "id", "destination": "_id", "name": "id"}],
}
LEGACY = {
    "version": 0,
    "xdmSchema": SCHEMA,
    "xdmVersion": "1.0",
    "id": None,
    "mappings": [
        {
            "sourceAttribute": "id",
            "destinationXdmPath": "_id",
            "identity": True,
            "identityGroup": None,
            "namespaceCode": "ECID",
        }
    ],
}


def _ids() -> Any:
    counter = itertools.count()
    return lambda: f"{next(counter):032x}"


@pytest.mark.parametrize("body", [OUTPUT, LEGACY])
def test_both_dialects_read_to_the_same_mapping(body: dict[str, Any]) -> None:
    request = read_request(body)
    assert request.schema_id == SCHEMA
    [mapping] = request.mappings
    assert (mapping.source_type, mapping.source, mapping.destination) == ("ATTRIBUTE", "id", "_id")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"outputSchema": None, "xdmSchema": None}, 1001),
        ({"outputSchema": {"schemaRef": {"id": " "}}}, 1001),
        ({"mappings": []}, 1001),
        ({"mappings": [1]}, 1001),
        ({"mappings": [{"source": "a"}]}, 1001),
        ({"mappings": [{"destination": "a"}]}, 1001),
        ({"mappings": [{"source": "a", "destination": "b", "sourceType": "x"}]}, 1001),
        (
            {
                "mappings": [
                    {"source": "a", "destination": "b"},
                    {"source": "c", "destination": "b"},
                ]
            },
            1004,
        ),
    ],
)
def test_malformed_bodies_are_refused_with_their_code(change: dict[str, Any], code: int) -> None:
    with pytest.raises(MappingSetError) as caught:
        read_request({**OUTPUT, **change})
    assert caught.value.code == code


def test_a_stored_mapping_set_carries_both_field_forms() -> None:
    stored = build_mapping_set(read_request(LEGACY), Stamp("me", 10), _ids())
    assert summary(stored) == {
        "id": stored["id"],
        "version": 0,
        "createdDate": 10,
        "modifiedDate": 10,
        "createdBy": "me",
        "modifiedBy": "me",
    }
    [mapping] = stored["mappings"]
    assert mapping["sourceType"] == "text/x.schema-path"
    assert (mapping["source"], mapping["sourceAttribute"]) == ("id", "id")
    assert (mapping["destination"], mapping["destinationXdmPath"]) == ("_id", "_id")
    assert mapping["identity"] is True
    assert (mapping["identityGroup"], mapping["namespaceCode"]) == (None, "ECID")
    assert stored["xdmSchema"] == stored["schemaRef"]["id"] == SCHEMA
    assert stored["outputSchema"]["schemaRef"]["id"] == SCHEMA


def test_the_next_version_keeps_the_id_and_creation_stamp() -> None:
    ids = _ids()
    first = build_mapping_set(read_request(OUTPUT), Stamp("me", 10), ids)
    second = build_mapping_set(read_request(LEGACY), Stamp("you", 20), ids, first)
    assert (second["id"], second["version"]) == (first["id"], 1)
    assert (second["createdBy"], second["createdDate"]) == ("me", 10)
    assert (second["modifiedBy"], second["modifiedDate"]) == ("you", 20)
    assert second["outputSchema"]["id"] == first["outputSchema"]["id"]

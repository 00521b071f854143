"""How the spec-example tests read a document's examples and compare answers with them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.spec_examples import Document, Shape, assemble, normalized, shape_problems

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.1",
    "paths": {
        "/things": {
            "post": {
                "operationId": "createThing",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/New"}}
                    }
                },
                "responses": {
                    "201": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Made"},
                                "example": {"id": "t1"},
                            }
                        }
                    }
                },
            },
            "get": {
                "parameters": [
                    {"name": "limit", "in": "query", "required": True, "schema": {"default": 10}},
                    {"name": "op", "in": "query", "required": True, "schema": {"enum": ["A", "B"]}},
                    {"name": "start", "in": "query", "schema": {"example": 3}},
                ],
                "responses": {"200": {"description": "a list"}},
            },
        },
        "/things/{ID}/action": {
            "post": {
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": {"properties": {"n": {}}}}},
                },
                "responses": {"200": {}},
            }
        },
    },
    "components": {
        "schemas": {
            "New": {
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "example": "a thing"},
                    "size": {"type": "integer"},
                    "kind": {"type": "string", "enum": ["big", "small"]},
                    "tags": {"type": "array", "items": {"type": "string", "example": "t"}},
                },
            },
            "Made": {"properties": {"id": {"type": "string"}}, "example": {"id": "other"}},
        }
    },
}


def _operations() -> dict[str, Any]:
    return {op.key: op for op in Document("things.yaml", OPENAPI).operations()}


def test_a_body_is_assembled_from_property_examples_as_swagger_ui_does() -> None:
    body = _operations()["POST /things"].body
    assert body is not None
    assert (body.origin, body.content_type) == ("assembled", "application/json")
    assert body.value == {"name": "a thing", "size": 0, "kind": "big", "tags": ["t"]}


def test_the_operations_own_response_example_wins_over_its_schemas() -> None:
    operation = _operations()["POST /things"]
    assert (operation.success, operation.response_example) == (201, {"id": "t1"})


def test_required_parameters_take_their_example_default_or_first_value() -> None:
    assert _operations()["GET /things"].parameters == {"query": {"limit": 10, "op": "A"}}


def test_an_optional_body_that_requires_nothing_is_not_sent() -> None:
    assert _operations()["POST /things/{ID}/action"].body is None


def test_a_swagger_2_body_parameter_gives_the_example_request() -> None:
    swagger: dict[str, Any] = {
        "swagger": "2.0",
        "paths": {
            "/tenant/schemas": {
                "post": {
                    "parameters": [{"$ref": "#/parameters/payload"}],
                    "responses": {201: {"schema": {"$ref": "#/definitions/made"}}},
                }
            }
        },
        "parameters": {
            "payload": {"in": "body", "name": "body", "schema": {"$ref": "#/definitions/new"}}
        },
        "definitions": {
            "new": {
                "properties": {"allOf": {"items": {"properties": {"$ref ": {"example": "c"}}}}}
            },
            "made": {"example": {"$id": "x", "allOf ": [{"$ref ": "c"}]}},
        },
    }
    operation = next(Document("registry.yaml", swagger).operations())
    assert operation.body is not None
    assert operation.body.value == {"allOf": [{"$ref ": "c"}]}
    assert normalized(operation.response_example, {}) == {"$id": "x", "allOf": [{"$ref": "c"}]}


def test_assembling_merges_all_of_and_stops_on_a_reference_cycle() -> None:
    schemas: dict[str, Any] = {
        "Loop": {"properties": {"next": {"$ref": "#/Loop"}}},
        "Both": {"allOf": [{"properties": {"a": {"example": 1}}}, {"properties": {"b": {}}}]},
    }

    def resolve(node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            node = schemas[node["$ref"].removeprefix("#/")]
        return node

    assert assemble({"$ref": "#/Both"}, resolve) == {"a": 1, "b": "string"}
    loop = assemble({"$ref": "#/Loop"}, resolve)
    depth = 0
    while isinstance(loop, dict):
        loop, depth = loop["next"], depth + 1
    assert depth < 20


def test_placeholders_are_replaced_in_keys_and_values() -> None:
    example = {"_{TENANT_ID}": {"id": "https://ns.adobe.com/{TENANT_ID}/schemas/1"}}
    assert normalized(example, {"{TENANT_ID}": "acme"}) == {
        "_acme": {"id": "https://ns.adobe.com/acme/schemas/1"}
    }


@pytest.mark.parametrize(
    ("example", "answer", "problems"),
    [
        ({"id": "x", "n": 1}, {"id": "y", "n": 2, "more": True}, []),
        ({"id": "x"}, {}, ["/id: missing"]),
        ({"n": 1}, {"n": "1"}, ["/n: string, the example shows number"]),
        ({"next": None}, {"next": "abc"}, []),
        ({"n": 0.5}, {"n": 3}, []),
        ([{"a": 1, "b": 2}, {"a": 3}], [{"a": 9}], []),
        ([{"a": 1}], [{"b": 1}], ["/0/a: missing"]),
        (["x"], ["y", None], []),
        (["x"], [1], ["/0: number, the example shows ['string']"]),
    ],
)
def test_an_answer_is_compared_with_the_keys_and_types_an_example_shows(
    example: Any, answer: Any, problems: list[str]
) -> None:
    assert shape_problems(example, answer) == problems


def test_a_map_in_the_schema_compares_each_value_with_the_examples_first() -> None:
    schema = {"type": "object", "additionalProperties": {"properties": {"name": {}}}}
    example = {"5ab540d0864cf0267448ead4": {"name": "x", "tags": {"foo": ["bar"]}}}
    answer = {"6c": {"name": "y", "tags": {"foo": []}}, "7d": {"tags": {}}}
    assert shape_problems(example, answer, Shape(schema)) == [
        "/7d/name: missing",
        "/7d/tags/foo: missing",
    ]


def test_a_maps_values_found_through_all_of_and_references() -> None:
    schemas = {"Tags": {"additionalProperties": {"type": "array"}}}
    schema = {"allOf": [{"properties": {"tags": {"$ref": "#/Tags"}}}]}

    def resolve(node: Any) -> Any:
        return schemas[node["$ref"][2:]] if isinstance(node, dict) and "$ref" in node else node

    example = {"tags": {"foo": ["bar"]}}
    assert (
        shape_problems(example, {"tags": {"unifiedProfile": ["x"]}}, Shape(schema, resolve)) == []
    )


def test_content_keys_are_compared_by_type_only() -> None:
    shape = Shape(content=frozenset({"definitions"}))
    example: dict[str, Any] = {"definitions": {"journeyClass": {"properties": {}}}}
    assert shape.problems(example, {"definitions": {"profile": {}}}, None, "") == []
    assert shape.problems(example, {"definitions": []}, None, "") == [
        "/definitions: array, the example shows object"
    ]

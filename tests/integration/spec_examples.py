"""The operations of Adobe's API documents and the examples they give, read as a client would.

Pure: documents in, data out. For each operation: its documented success status, its example
request (the operation's own example, else its body schema's example, else one assembled from the
schema's property examples the way Swagger UI assembles it), the example values of its required
parameters, and its example response (the response's own example, else its schema's), if any.
OpenAPI 3 (Flow Service, Catalog, Data Prep) and Swagger 2.0 (Schema Registry) are both read.

The Schema Registry writes ``"$ref "`` and ``"allOf "`` (a trailing space) inside its examples so
that tools do not resolve them as references; ``normalized`` reads them as the keys they stand
for. ``shape_problems`` says how an answer differs from an example's shape: every key the
example shows is present with a value of the same JSON type (an example ``null`` matches any);
the document's schema, when given, tells maps (Catalog's answers keyed by id, ``tags``) from
records.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Json = Any
_METHODS = ("get", "post", "put", "patch", "delete")
_SPACED_KEYS = {"$ref ": "$ref", "allOf ": "allOf"}


@dataclass(frozen=True)
class Body:
    """An example request body and the content type it is sent as."""

    content_type: str
    value: Json
    origin: str  # "example" (the operation's own), "schema" (its schema's) or "assembled"


@dataclass(frozen=True)
class Operation:
    """One documented operation and what its document shows of it."""

    document: str
    method: str
    path: str
    operation_id: str
    success: int
    body: Body | None
    parameters: dict[str, dict[str, Json]] = field(default_factory=dict)  # in -> name -> value
    response_schema: Json = None
    response_example: Json = None

    @property
    def key(self) -> str:
        """``METHOD /path`` as the document writes it."""
        return f"{self.method.upper()} {self.path}"


class Document:
    """A loaded OpenAPI 3 or Swagger 2.0 document and a resolver for its local references."""

    def __init__(self, name: str, raw: Mapping[str, Json]) -> None:
        self.name = name
        self.raw = raw
        self.swagger2 = str(raw.get("swagger", "")).startswith("2")

    def resolve(self, node: Json) -> Json:
        """Follow ``$ref`` (repeatedly) to the node it names."""
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 20:
            target: Json = self.raw
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node, seen = target, seen + 1
        return node

    def operations(self) -> Iterator[Operation]:
        """Every operation, in document order."""
        for path, item in self.raw["paths"].items():
            for method in _METHODS:
                if isinstance(item.get(method), dict):
                    yield self._operation(path, method, item[method])

    def _operation(self, path: str, method: str, spec: Mapping[str, Json]) -> Operation:
        status, response = _success(spec.get("responses", {}))
        parameters = [self.resolve(p) for p in spec.get("parameters", [])]
        schema, example = self._response(response)
        return Operation(
            document=self.name,
            method=method,
            path=path,
            operation_id=str(spec.get("operationId", "")),
            success=status,
            body=self._body(spec, parameters),
            parameters=self._required_parameters(parameters),
            response_schema=schema,
            response_example=example,
        )

    def _response(self, response: Mapping[str, Json]) -> tuple[Json, Json]:
        if self.swagger2:
            schema = response.get("schema")
            examples = response.get("examples") or {}
            example = next(iter(examples.values()), None) if examples else None
            return schema, example if example is not None else self._schema_example(schema)
        for content in (response.get("content") or {}).values():
            schema = content.get("schema")
            example = _content_example(content)
            return schema, example if example is not None else self._schema_example(schema)
        return None, None

    def _schema_example(self, schema: Json) -> Json:
        if not isinstance(schema, dict):
            return None
        if "example" in schema:
            return copy.deepcopy(schema["example"])
        resolved = self.resolve(schema)
        return copy.deepcopy(resolved.get("example")) if isinstance(resolved, dict) else None

    def _body(self, spec: Mapping[str, Json], parameters: list[Json]) -> Body | None:
        if self.swagger2:
            body = next((p for p in parameters if p.get("in") == "body"), None)
            if body is None:
                return None
            return self._body_from("application/json", body.get("schema"), None)
        request = self.resolve(spec.get("requestBody")) or {}
        contents = request.get("content") or {}
        if not contents:
            return None
        with_example = [(t, c) for t, c in contents.items() if _content_example(c) is not None]
        content_type, content = (with_example or list(contents.items()))[0]
        explicit = _content_example(content)
        schema = self.resolve(content.get("schema")) or {}
        if explicit is None and request.get("required") is False and not schema.get("required"):
            return None  # an optional body that requires nothing is not sent
        return self._body_from(content_type, content.get("schema"), explicit)

    def _body_from(self, content_type: str, schema: Json, explicit: Json) -> Body:
        if explicit is not None:
            return Body(content_type, explicit, "example")
        own = self._schema_example(schema)
        if own is not None:
            return Body(content_type, own, "schema")
        return Body(content_type, assemble(schema, self.resolve), "assembled")

    def _required_parameters(self, parameters: list[Json]) -> dict[str, dict[str, Json]]:
        found: dict[str, dict[str, Json]] = {}
        for parameter in parameters:
            where = parameter.get("in")
            if where == "body" or not parameter.get("required"):
                continue
            schema = parameter.get("schema", parameter)
            found.setdefault(where, {})[parameter["name"]] = _parameter_example(parameter, schema)
        return found


def _success(responses: Mapping[Any, Json]) -> tuple[int, Mapping[str, Json]]:
    for code, response in responses.items():
        if str(code).startswith("2"):
            return int(code), response or {}
    raise ValueError("the operation documents no success status")


def _content_example(content: Mapping[str, Json]) -> Json:
    if "example" in content:
        return copy.deepcopy(content["example"])
    examples = content.get("examples") or {}
    for example in examples.values():
        if isinstance(example, dict) and "value" in example:
            return copy.deepcopy(example["value"])
    return None


def _parameter_example(parameter: Mapping[str, Json], schema: Mapping[str, Json]) -> Json:
    for source in (parameter, schema):
        for key in ("example", "x-example", "default"):
            if key in source:
                return source[key]
    enum = schema.get("enum") or (schema.get("items") or {}).get("enum")
    return enum[0] if enum else None


_PLACEHOLDERS = {"string": "string", "integer": 0, "number": 0, "boolean": True}


def assemble(schema: Json, resolve: Callable[[Json], Json], depth: int = 0) -> Json:
    """An example built from a schema's property examples, as Swagger UI builds one."""
    schema = resolve(schema)
    if not isinstance(schema, dict) or depth > 12:
        return None
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if "allOf" in schema:
        merged: dict[str, Json] = {}
        for part in schema["allOf"]:
            value = assemble(part, resolve, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return assemble(schema[key][0], resolve, depth + 1)
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    kind = kind or ("array" if "items" in schema else None)
    if kind == "array":
        return [assemble(schema.get("items", {}), resolve, depth + 1)]
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: assemble(prop, resolve, depth + 1) for name, prop in properties.items()}
    return _PLACEHOLDERS.get(kind or "string")


def normalized(value: Json, replacements: Mapping[str, str]) -> Json:
    """An example with the registry's spaced keys fixed and placeholders (``{TENANT_ID}``...)
    replaced, in keys and in string values."""
    if isinstance(value, dict):
        return {
            _replace(_SPACED_KEYS.get(key) or key, replacements): normalized(item, replacements)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalized(item, replacements) for item in value]
    if isinstance(value, str):
        return _replace(value, replacements)
    return value


def _replace(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def _json_type(value: Json) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _type_only(value: Json) -> Json:
    """A stand-in of the same JSON type with nothing inside."""
    return {"object": {}, "array": []}.get(_json_type(value), value)


def shape_problems(example: Json, answer: Json, shape: Shape | None = None) -> list[str]:
    """How ``answer`` departs from the shape ``example`` shows, one line each (empty: it fits)."""
    return (shape or Shape()).problems(example, answer, None, "")


@dataclass(frozen=True)
class Shape:
    """Compares answers with examples; a document's schema (when given) tells maps from records:
    an object whose schema has ``additionalProperties`` and no ``properties`` is a map, each of
    its values compared with the example's first value; any other object is a record, every key
    the example shows required. Under a ``content`` key (a resource's own fields, named by its
    author) only the JSON type is compared."""

    schema: Json = None
    resolve: Callable[[Json], Json] = lambda node: node
    content: frozenset[str] = frozenset()  # keys whose values are a resource's own content

    def problems(self, example: Json, answer: Json, schema: Json, where: str) -> list[str]:
        """The differences at one place of the answer (``schema`` describes that place)."""
        schema = self.schema if where == "" and schema is None else schema
        if example is None:
            return []
        if _json_type(example) != _json_type(answer):
            shown = f"{_json_type(answer)}, the example shows {_json_type(example)}"
            return [f"{where or '/'}: {shown}"]
        if isinstance(example, dict):
            return self._object(example, answer, schema, where)
        if isinstance(example, list) and example and answer:
            return self._list(example, answer, self._items(schema), where)
        return []

    def _object(
        self, example: dict[str, Json], answer: dict[str, Json], schema: Json, where: str
    ) -> list[str]:
        values = self._map_values(schema)
        if values is not None and example:
            template = next(iter(example.values()))
            return [
                p
                for key, item in answer.items()
                for p in self.problems(template, item, values, f"{where}/{key}")
            ]
        problems: list[str] = []
        for key, value in example.items():
            path = f"{where}/{key}"
            if key not in answer:
                problems.append(f"{path}: missing")
            elif key in self.content:
                problems.extend(
                    self.problems(_type_only(value), _type_only(answer[key]), None, path)
                )
            else:
                child = self._property(schema, key)
                problems.extend(self.problems(value, answer[key], child, path))
        return problems

    def _list(self, example: list[Json], answer: list[Json], items: Json, where: str) -> list[str]:
        if all(isinstance(item, dict) for item in example):
            shared = set.intersection(*(set(item) for item in example))
            template = {key: example[0][key] for key in example[0] if key in shared}
            return [
                p
                for i, item in enumerate(answer)
                for p in self.problems(template, item, items, f"{where}/{i}")
            ]
        kinds = {_json_type(item) for item in example} | {"null"}
        return [
            f"{where}/{i}: {_json_type(item)}, the example shows {sorted(kinds - {'null'})}"
            for i, item in enumerate(answer)
            if _json_type(item) not in kinds
        ]

    def _parts(self, schema: Json) -> Iterator[dict[str, Json]]:
        """A schema and, through ``allOf``, every schema it is composed of (resolved)."""
        schema = self.resolve(schema)
        if isinstance(schema, dict):
            yield schema
            for part in schema.get("allOf", []):
                yield from self._parts(part)

    def _property(self, schema: Json, key: str) -> Json:
        for part in self._parts(schema):
            if key in part.get("properties", {}):
                return part["properties"][key]
        for part in self._parts(schema):
            if isinstance(part.get("additionalProperties"), dict):
                return part["additionalProperties"]
        return None

    def _map_values(self, schema: Json) -> Json:
        parts = list(self._parts(schema))
        if any(part.get("properties") for part in parts):
            return None
        return next(
            (
                p["additionalProperties"]
                for p in parts
                if isinstance(p.get("additionalProperties"), dict)
            ),
            None,
        )

    def _items(self, schema: Json) -> Json:
        return next((part["items"] for part in self._parts(schema) if "items" in part), None)

"""Every example of Adobe's API documents, sent to the emulator and its answer checked.

For each operation of the four documents the emulator serves, the document's example request
(ids substituted from resources the test creates first) is sent, and the answer must have the
documented success status, fit the documented schema (adjusted where the document's examples
contradict it: ``adobe_specs.ADJUSTMENTS``) and show the example response's shape (its keys,
with values of the same JSON types). Each operation the emulator does not serve is skipped with
the reason, after checking that the emulator indeed answers it with a 404 or 405. The cases
(what is substituted, and what cannot be sent as written) are in ``examples_<service>.py``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.integration import (
    examples_catalog,
    examples_dataprep,
    examples_flowservice,
    examples_schemaregistry,
)
from tests.integration.adobe_specs import (
    ADJUSTMENTS,
    DOCUMENTS,
    Adjustment,
    document,
    example_errors,
    require,
    schema_errors,
)
from tests.integration.example_world import Case, World, substituted
from tests.integration.registry_support import PlatformApi, api, emulator
from tests.integration.spec_examples import Operation, Shape, normalized

__all__ = ["api", "emulator"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration

CASES: dict[str, dict[str, Case | str]] = {
    "flow-service.yaml": examples_flowservice.CASES,
    "catalog.yaml": examples_catalog.CASES,
    "data-prep.yaml": examples_dataprep.CASES,
    "schema-registry.yaml": examples_schemaregistry.CASES,
}
#: Keys whose values are a resource's own content (its fields, named by its author), so the
#: example resource's content says nothing of the emulator's: only their JSON type is compared.
CONTENT = {"schema-registry.yaml": frozenset({"definitions"})}
OPERATIONS = [
    pytest.param(name, key, id=f"{name.removesuffix('.yaml')}: {key}")
    for name, cases in CASES.items()
    for key in cases
]


def _operation(name: str, key: str) -> Operation:
    return next(op for op in document(name).operations() if op.key == key)


def _path(operation: Operation, values: dict[str, Any]) -> str:
    path = operation.path
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", quote(str(value), safe=""))
    return f"{DOCUMENTS[operation.document]}{path}"


def send(world: World, operation: Operation, case: Case) -> httpx.Response:
    """The operation's example request, as the case says to send it."""
    case.given(world)
    path_values = {**operation.parameters.get("path", {}), **case.path(world)}
    query = {k: v for k, v in operation.parameters.get("query", {}).items() if v is not None}
    headers = case.headers(world)
    content = None
    if operation.body is not None:
        body = substituted(operation.body.value, case.ids(world))
        body = normalized(body, world.placeholders())
        if case.edit is not None:
            body = case.edit(world, body)
        headers["Content-Type"] = operation.body.content_type
        content = json.dumps(body).encode()
    return world.api.request(
        operation.method.upper(),
        _path(operation, path_values),
        accept=case.accept,
        params={**query, **case.query},
        content=content,
        headers=headers,
    )


def answer_problems(
    world: World, operation: Operation, case: Case, answer: httpx.Response
) -> list[str]:
    """How an answer departs from the documented schema and the example's shape."""
    if operation.response_schema is None or not answer.content:
        return []
    body = answer.json()
    items = body if case.each_item else [body]
    problems = [
        p
        for item in items
        for p in schema_errors(operation.document, operation.response_schema, item)
    ]
    example = operation.response_example
    if example is not None:
        example = normalized(example, world.placeholders())
        if case.fix_example is not None:
            example = case.fix_example(example)
        content = CONTENT.get(operation.document, frozenset())
        shape = Shape(operation.response_schema, document(operation.document).resolve, content)
        problems += [
            f"shape {p}" for item in items for p in shape.problems(example, item, None, "")
        ]
    return problems


@pytest.mark.parametrize(("name", "key"), OPERATIONS)
def test_the_documents_example_is_answered_as_documented(
    api: PlatformApi, name: str, key: str
) -> None:
    require(name)
    operation = _operation(name, key)
    case = CASES[name][key]
    if isinstance(case, str):
        answer = api.request(operation.method.upper(), _path(operation, {}))
        assert answer.status_code in (404, 405), f"{key} is served: {answer.status_code}"
        pytest.skip(f"{key}: {case}")
    world = World(api)
    answer = send(world, operation, case)
    assert answer.status_code == operation.success, answer.text
    problems = answer_problems(world, operation, case, answer)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", list(CASES))
def test_every_operation_of_the_documents_has_a_case_or_a_reason(name: str) -> None:
    require(name)
    documented = [operation.key for operation in document(name).operations()]
    assert sorted(CASES[name]) == sorted(documented)


@pytest.mark.parametrize(
    "adjustment", ADJUSTMENTS, ids=[f"{a.document}: {a.what[:40]}" for a in ADJUSTMENTS]
)
def test_each_adjustment_answers_a_contradiction_of_the_documents_own_example(
    adjustment: Adjustment,
) -> None:
    require(adjustment.document)
    assert example_errors(adjustment, adjusted=False) != []
    assert example_errors(adjustment, adjusted=True) == []

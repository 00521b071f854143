"""Data Prep: how each operation of data-prep.yaml has its example sent, or why not."""

from __future__ import annotations

from tests.integration.example_world import Case, Json, World

EXPRESSIONS = "The expression language (validate, functions, operators) is not emulated."
SCHEMA = "https://ns.adobe.com/{TENANT_ID}/schemas/89abc189258b1cb1a816d8f2b2341a6d98000ed8f4008305"


def _schema(world: World) -> dict[str, str]:
    return {SCHEMA: world.schema_id}


def _mapping_set(world: World) -> dict[str, str]:
    return {"MAPPING_SET_ID": world.mapping_set_id}


def _data_as_a_list(example: Json) -> Json:
    data = {key: value for key, value in example["data"].items() if key != "inputSchema"}
    return {**example, "data": [data]}


CASES: dict[str, Case | str] = {
    "POST /languages/el/validate": EXPRESSIONS,
    "GET /languages/el/functions": EXPRESSIONS,
    "GET /languages/el/operators": EXPRESSIONS,
    "GET /mappingSets": Case(
        given=lambda w: w.mapping_set_id,
        fix_example=_data_as_a_list,
        example_why=(
            "The example shows data as one mapping set; the schema and the API guide show a "
            "list of them. Its inputSchema belongs to a set made from sample data in the UI; a "
            "set created through the API without one has none."
        ),
    ),
    "POST /mappingSets": Case(ids=_schema),
    "POST /mappingSets/validate": Case(ids=_schema),
    "POST /mappingSets/preview": "Previewing runs the mapping engine, which is not emulated.",
    "GET /mappingSets/{MAPPING_SET_ID}": Case(path=_mapping_set),
    "PUT /mappingSets/{MAPPING_SET_ID}": Case(path=_mapping_set, ids=_schema),
    "GET /mappingSets/{MAPPING_SET_ID}/mappings": Case(
        path=_mapping_set,
        each_item=True,
        example_why=(
            "The document types the answer as one mapping; the API guide shows a list, and "
            "each item is checked against the document's mapping."
        ),
    ),
    "GET /mappingSets/{MAPPING_SET_ID}/mappings/{MAPPING_ID}": Case(
        path=lambda w: {"MAPPING_SET_ID": w.mapping_set_id, "MAPPING_ID": w.mapping_id}
    ),
}

"""Flow Service: how each operation of flow-service.yaml has its example sent, or why not.

Flow Service's examples are written for Google Cloud Storage (spec ``32e8f412``) and its
``CloudStorageToAEP`` flow spec; the emulator carries the ``CRMToAEP`` connectors, so those spec
ids become MariaDB's and ``CRMToAEP``'s, and the example's Google Cloud Storage credentials the
MariaDB connector's connection string. Every other value is sent as the document gives it.
"""

from __future__ import annotations

from emulator.specs import CONNECTION_STRING_AUTH, CRM_TO_AEP_ID
from emulator.testing import MARIADB_SPEC_ID
from tests.integration.example_world import Case, Json, World

GCS_SPEC = "32e8f412-cdf7-464c-9885-78184cb113fd"
CLOUD_FLOW_SPEC = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
EXAMPLE_SCHEMA = "8e5fd1adf94007b936d0f8ea9e270c48dba26b7dcdad80d0"
CONNECTOR = (
    "The example is written for Google Cloud Storage, a file source the emulator does not "
    "carry; the MariaDB connector and its connection-string credentials are named instead."
)
AUTH_PATCH = (
    "The example patches /auth/params, which only a base connection has; its new description "
    "is patched in at /description instead."
)
EXPLORE = "Testing and exploring a connection reads the live source; the emulator holds no data."
AUTHORING = "Connection and flow specs are Adobe's; the emulator's catalogue of specs is fixed."
PUBLISH = "The connector-authoring actions (FINALIZE, PUBLISH) are not emulated."
SEARCH = "The search endpoints are not emulated; the lists take property= filters."
RUNS = "Runs come from the flows' schedules and POST /__emulator/clock; runs are not written."


def _mariadb_credentials(world: World, body: Json) -> Json:
    params = {"connectionString": "Server=db.example;Port=3306;Database=crm;UID=u;PWD=p"}
    return {**body, "auth": {"specName": CONNECTION_STRING_AUTH, "params": params}}


def _description_instead(world: World, body: Json) -> Json:
    return [{**op, "path": "/description", "value": op["value"]["description"]} for op in body]


def _if_match(kind: str, attribute: str) -> Case:
    """A PATCH of one resource of ``kind`` under its current etag."""
    return Case(
        path=lambda w: {_PARAM[kind]: getattr(w, attribute)},
        headers=lambda w: {"if-match": w.etag(kind, getattr(w, attribute))},
        edit=None if kind == "connections" else _description_instead,
        why="" if kind == "connections" else AUTH_PATCH,
    )


_PARAM = {
    "connections": "BASE_CONNECTION_ID",
    "sourceConnections": "SOURCE_CONNECTION_ID",
    "targetConnections": "TARGET_CONNECTION_ID",
    "flows": "FLOW_ID",
}

CASES: dict[str, Case | str] = {
    "GET /connections": Case(given=lambda w: w.base_id),
    "POST /connections": Case(
        ids=lambda w: {GCS_SPEC: MARIADB_SPEC_ID}, edit=_mariadb_credentials, why=CONNECTOR
    ),
    "GET /connections/{BASE_CONNECTION_ID}": Case(path=lambda w: {"BASE_CONNECTION_ID": w.base_id}),
    "GET /connections/{BASE_CONNECTION_ID}/test": EXPLORE,
    "GET /connections/{BASE_CONNECTION_ID}/explore": EXPLORE,
    "POST /connections/{BASE_CONNECTION_ID}/action": PUBLISH,
    "DELETE /connections/{BASE_CONNECTION_ID}/": Case(
        path=lambda w: {"BASE_CONNECTION_ID": w.base_id}
    ),
    "PATCH /connections/{BASE_CONNECTION_ID}/": _if_match("connections", "base_id"),
    "GET /connections/{BASE_CONNECTION_ID}/configs": EXPLORE,
    "POST /connections/search": SEARCH,
    "GET /connectionSpecs": Case(),
    "POST /connectionSpecs": AUTHORING,
    "GET /connectionSpecs/{CONNECTION_SPEC_ID}": Case(
        path=lambda w: {"CONNECTION_SPEC_ID": MARIADB_SPEC_ID}
    ),
    "PUT /connectionSpecs/{CONNECTION_SPEC_ID}": AUTHORING,
    "GET /connectionSpecs/{CONNECTION_SPEC_ID}/explore": EXPLORE,
    "GET /connectionSpecs/{CONNECTION_SPEC_ID}/configs": EXPLORE,
    "GET /flows": Case(given=lambda w: w.flow_id),
    "POST /flows": Case(
        ids=lambda w: {
            CLOUD_FLOW_SPEC: CRM_TO_AEP_ID,
            "eb19c882-f19c-4d63-ad21-1d7ba9b21a85": w.source_id,
            "eea7eaf4-3fe5-4792-b59b-2ec24c3e8331": w.target_id,
            "97051e9e86184c7d88d6bf8104ad7765": w.mapping_set_id,
        },
        why="The example's flow spec is CloudStorageToAEP; CRMToAEP is named instead.",
    ),
    "GET /flows/{FLOW_ID}": Case(path=lambda w: {"FLOW_ID": w.flow_id}),
    "DELETE /flows/{FLOW_ID}": Case(path=lambda w: {"FLOW_ID": w.flow_id}),
    "PATCH /flows/{FLOW_ID}": _if_match("flows", "flow_id"),
    "POST /flows/search": SEARCH,
    "POST /flows/{FLOW_ID}/action": Case(path=lambda w: {"FLOW_ID": w.flow_id}),
    "GET /flowSpecs": Case(),
    "POST /flowSpecs": AUTHORING,
    "GET /flowSpecs/{FLOW_SPEC_ID}": Case(path=lambda w: {"FLOW_SPEC_ID": CRM_TO_AEP_ID}),
    "PUT /flowSpecs/{FLOW_SPEC_ID}": AUTHORING,
    "POST /flowSpecs/search": SEARCH,
    "GET /runs": Case(given=lambda w: w.run_id),
    "POST /runs": RUNS,
    "GET /runs/{RUN_ID}": Case(path=lambda w: {"RUN_ID": w.run_id}),
    "PUT /runs/{RUN_ID}": RUNS,
    "POST /runs/{RUN_ID}/action": RUNS,
    "GET /sourceConnections": Case(given=lambda w: w.source_id),
    "POST /sourceConnections": Case(
        ids=lambda w: {
            GCS_SPEC: MARIADB_SPEC_ID,
            "69f188b6-af07-4587-8061-e94d34637b41": w.base_id,
        },
        why=CONNECTOR,
    ),
    "GET /sourceConnections/{SOURCE_CONNECTION_ID}": Case(
        path=lambda w: {"SOURCE_CONNECTION_ID": w.source_id}
    ),
    "DELETE /sourceConnections/{SOURCE_CONNECTION_ID}": Case(
        path=lambda w: {"SOURCE_CONNECTION_ID": w.source_id}
    ),
    "PATCH /sourceConnections/{SOURCE_CONNECTION_ID}": _if_match("sourceConnections", "source_id"),
    "POST /sourceConnections/{SOURCE_CONNECTION_ID}/action": PUBLISH,
    "GET /targetConnections": Case(given=lambda w: w.target_id),
    "POST /targetConnections": Case(
        ids=lambda w: {
            f"https://ns.adobe.com/{{TENANT}}/schemas/{EXAMPLE_SCHEMA}": w.schema_id,
            "638e6c7b5679741b63ff5c24": w.dataset_id,
        }
    ),
    "POST /targetConnections/{TARGET_CONNECTION_ID}/action": PUBLISH,
    "GET /targetConnections/{TARGET_CONNECTION_ID}": Case(
        path=lambda w: {"TARGET_CONNECTION_ID": w.target_id}
    ),
    "DELETE /targetConnections/{TARGET_CONNECTION_ID}": Case(
        path=lambda w: {"TARGET_CONNECTION_ID": w.target_id}
    ),
    "PATCH /targetConnections/{TARGET_CONNECTION_ID}": _if_match("targetConnections", "target_id"),
}

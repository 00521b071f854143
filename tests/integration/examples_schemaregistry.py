"""Schema Registry: how each operation of schema-registry.yaml has its example sent, or why not.

Lists are asked for with the ``Accept`` their example answers to: whole resources
(``application/vnd.adobe.xed+json``) where the example shows them, summaries
(``application/vnd.adobe.xed-id+json``) elsewhere; lookups with
``application/vnd.adobe.xed+json; version=1``, the first value the document lists.
"""

from __future__ import annotations

from tests.integration.example_world import Case, Json, World
from tests.integration.registry_support import LIST_IDS, LOOKUP, PERSON_DETAILS, PROFILE

FULL = "application/vnd.adobe.xed+json"
UPDATES = "Updating registry resources (PUT, PATCH) is not emulated: they are created and deleted."
CLASSES = "Tenant classes are not emulated: a schema composes one of the standard classes."
DATATYPES = "Data types are not emulated: tenant field groups define their fields inline."
DESCRIPTORS = "Descriptors (identities, relationships) are not emulated."
UNIONS = "Union schemas are not emulated."
RPC = "Export, import, sample data and the audit log are not emulated."
BEHAVIORS = "Behaviors are not emulated: the standard classes carry theirs."
TENANT_CLASS = "https://ns.adobe.com/{TENANT_ID}/classes/19e1d8b5098a7a76e2c10a81cbc99590"
FIELD_GROUP_WHY = (
    "The example extends a tenant class and uses a tenant data type (propertyConstruction), "
    "neither of which the emulator has: the field group is meant for the Profile class and "
    "that one field is left out."
)


def _without_data_type(world: World, body: Json) -> Json:
    fields = body["definitions"]["property"]["properties"][f"_{world.tenant}"]["properties"]
    del fields["propertyConstruction"]
    return body


def _answer_without_data_type(example: Json) -> Json:
    for definition in example["definitions"].values():
        for namespace in definition["properties"].values():
            namespace["properties"].pop("propertyConstruction", None)
    return example


def _field_group(param: str) -> dict[str, Case | str]:
    """The cases of one of the two paths field groups have (``fieldgroups``, ``mixins``)."""
    kind = "fieldgroups" if param == "FIELD_GROUP_ID" else "mixins"
    return {
        f"GET /{{CONTAINER_ID}}/{kind}": Case(
            path=lambda w: {"CONTAINER_ID": "global"}, accept=FULL
        ),
        f"GET /{{CONTAINER_ID}}/{kind}/{{{param}}}": Case(
            path=lambda w: {"CONTAINER_ID": "global", param: PERSON_DETAILS}, accept=LOOKUP
        ),
        f"POST /tenant/{kind}": Case(
            ids=lambda w: {TENANT_CLASS: PROFILE},
            edit=_without_data_type,
            why=FIELD_GROUP_WHY,
            fix_example=_answer_without_data_type,
            example_why="The field left out of the request is not expected in the answer.",
        ),
        f"PUT /tenant/{kind}/{{{param}}}": UPDATES,
        f"PATCH /tenant/{kind}/{{{param}}}": UPDATES,
        f"DELETE /tenant/{kind}/{{{param}}}": Case(path=lambda w: {param: w.field_group_id}),
    }


def _standard_class_instead(example: Json) -> Json:
    tenant_only = ("imsOrg", "meta:sandboxId", "meta:sandboxType", "meta:tenantNamespace")
    kept = {key: value for key, value in example.items() if key not in tenant_only}
    metadata = kept["meta:registryMetadata"]
    kept["meta:registryMetadata"] = {k: v for k, v in metadata.items() if not k.startswith("xdm:")}
    return kept


CASES: dict[str, Case | str] = {
    "GET /stats": Case(given=lambda w: w.schema_id),
    **_field_group("FIELD_GROUP_ID"),
    "GET /{CONTAINER_ID}/schemas": Case(
        given=lambda w: w.schema_id, path=lambda w: {"CONTAINER_ID": "tenant"}, accept=LIST_IDS
    ),
    "GET /{CONTAINER_ID}/schemas/{SCHEMA_ID}": Case(
        path=lambda w: {"CONTAINER_ID": "tenant", "SCHEMA_ID": w.schema_id}, accept=LOOKUP
    ),
    "POST /tenant/schemas": Case(),
    "PUT /tenant/schemas/{SCHEMA_ID}": UPDATES,
    "PATCH /tenant/schemas/{SCHEMA_ID}": UPDATES,
    "DELETE /tenant/schemas/{SCHEMA_ID}": Case(path=lambda w: {"SCHEMA_ID": w.unused_schema_id}),
    "GET /global/behaviors": BEHAVIORS,
    "GET /global/behaviors/{BEHAVIOR_ID}": BEHAVIORS,
    **_field_group("MIXIN_ID"),
    "GET /{CONTAINER_ID}/classes": Case(path=lambda w: {"CONTAINER_ID": "global"}, accept=FULL),
    "GET /{CONTAINER_ID}/classes/{CLASS_ID}": Case(
        path=lambda w: {"CONTAINER_ID": "global", "CLASS_ID": PROFILE},
        accept=LOOKUP,
        fix_example=_standard_class_instead,
        example_why=(
            "The example looks up a tenant class, which the emulator does not have; the Profile "
            "class is looked up, and what only a tenant resource has (its org, sandbox, tenant "
            "namespace, creating client and user) is not expected."
        ),
    ),
    "POST /tenant/classes": CLASSES,
    "PUT /tenant/classes/{CLASS_ID}": CLASSES,
    "PATCH /tenant/classes/{CLASS_ID}": CLASSES,
    "DELETE /tenant/classes/{CLASS_ID}": CLASSES,
    "GET /{CONTAINER_ID}/datatypes": DATATYPES,
    "GET /{CONTAINER_ID}/datatypes/{DATA_TYPE_ID}": DATATYPES,
    "POST /tenant/datatypes": DATATYPES,
    "PUT /tenant/datatypes/{DATA_TYPE_ID}": DATATYPES,
    "PATCH /tenant/datatypes/{DATA_TYPE_ID}": DATATYPES,
    "DELETE /tenant/datatypes/{DATA_TYPE_ID}": DATATYPES,
    "GET /{CONTAINER_ID}/descriptors": DESCRIPTORS,
    "GET /{CONTAINER_ID}/descriptors/{DESCRIPTOR_ID}": DESCRIPTORS,
    "POST /tenant/descriptors": DESCRIPTORS,
    "PUT /tenant/descriptors/{DESCRIPTOR_ID}": DESCRIPTORS,
    "DELETE /tenant/descriptors/{DESCRIPTOR_ID}": DESCRIPTORS,
    "GET /tenant/unions": UNIONS,
    "GET /tenant/unions/{UNION_ID}": UNIONS,
    "GET /rpc/export/{RESOURCE_ID}": RPC,
    "POST /rpc/import": RPC,
    "GET /rpc/sampledata/{SCHEMA_ID}": RPC,
    "GET /rpc/auditlog/{RESOURCE_ID}": RPC,
}

"""The Schema Registry's ``GET /stats``: the org's tenant id, resource counts and class usage."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.registrystore import tenant_id_of
from emulator.state import FIELD_GROUPS, SCHEMAS, Item, scope_of, store_of
from emulator.xdm import standard_catalogue


def _class_usage(schemas: Iterable[Item]) -> list[Item]:
    usage: dict[str, list[Item]] = {}
    for schema in schemas:
        usage.setdefault(schema["meta:class"], []).append(
            {"$id": schema["$id"], "title": schema["title"]}
        )
    catalogue = standard_catalogue()
    return [
        {
            "$id": class_id,
            "title": catalogue.classes[class_id].title,
            "numberOfSchemas": len(used),
            "schemas": used,
        }
        for class_id, used in usage.items()
    ]


async def registry_stats(request: Request) -> Response:
    """``GET /stats``: the org's tenant id and resource counts."""
    store, scope = store_of(request), scope_of(request)
    catalogue = standard_catalogue()
    schemas = len(store.collection(scope, SCHEMAS))
    groups = len(store.collection(scope, FIELD_GROUPS))
    body = {
        "imsOrg": scope.org,
        "tenantId": tenant_id_of(scope.org),
        "counts": {
            "schemas": schemas,
            "mixins": groups + len(catalogue.field_groups),
            "datatypes": 0,
            "classes": len(catalogue.classes),
            "unions": 0,
        },
        "recentlyCreatedResources": [],
        "recentlyUpdatedResources": [],
        "classUsage": _class_usage(store.collection(scope, SCHEMAS).values()),
    }
    return JSONResponse(body)

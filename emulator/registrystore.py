"""Reading the Schema Registry's resources from the store: what other services look up.

Catalog checks that a dataset's schema exists, Data Prep that every mapping destination is a
field of the schema, Flow Service may do either; all of them go through these functions, which
find resources by ``$id`` or ``meta:altId`` with the store's indexes (no scans).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from emulator.schemadocs import schema_fields_from, strip_internal
from emulator.state import FIELD_GROUPS, SCHEMAS, Collection, Item, Scope, Store


def tenant_id_of(org: str) -> str:
    """An org's tenant id: its lowercase letters and digits (``ACME@AdobeOrg`` -> ``acme``)."""
    base = re.sub(r"[^a-z0-9]", "", org.split("@", 1)[0].lower())
    return base[:24] or "tenant"


def find_tenant_resource(coll: Collection, ref: str) -> Item | None:
    """A stored schema or field group by ``$id`` (plain or URL-encoded) or ``meta:altId``."""
    decoded = unquote(ref)
    found = coll.get(decoded)
    if found is not None:
        return found
    matches = coll.find("meta:altId", decoded)
    return matches[0] if matches else None


def find_schema(store: Store, scope: Scope, ref: str) -> Item | None:
    """The tenant schema with this ``$id`` or ``meta:altId`` in the sandbox, if any."""
    found = find_tenant_resource(store.collection(scope, SCHEMAS), ref)
    return strip_internal(found) if found is not None else None


def schema_fields(store: Store, scope: Scope, ref: str) -> dict[str, str] | None:
    """Every field path of a tenant schema with its XDM type (None: no such schema)."""
    schema = find_tenant_resource(store.collection(scope, SCHEMAS), ref)
    if schema is None:
        return None
    groups = store.collection(scope, FIELD_GROUPS)
    return schema_fields_from(schema, groups.get, tenant_id_of(scope.org))


def schema_field_paths(store: Store, scope: Scope, ref: str) -> frozenset[str] | None:
    """Every field path of a tenant schema (None when the schema does not exist).

    Used by Data Prep to check mapping destinations; Flow Service may call it too.
    """
    fields = schema_fields(store, scope, ref)
    return frozenset(fields) if fields is not None else None

"""The connection specs and flow specs Flow Service serves: read-only, the same for every org."""

from __future__ import annotations

from typing import Any

CRM_TO_AEP_ID = "14518937-270c-4525-bdec-c2ba7cce3860"
DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CONNECTION_STRING_AUTH = "Connection String Based Authentication"
XED_FULL_V1 = "application/vnd.adobe.xed-full+json;version=1"

# (id, name, category): every source connector of CRMToAEP, in the flow spec's order.
_SOURCES: tuple[tuple[str, str, str], ...] = (
    ("3416976c-a9ca-4bba-901a-1f08f66978ff", "amazon-redshift", "database"),
    ("38ad80fe-8b06-4938-94f4-d4ee80266b07", "dynamics-online", "crm"),
    ("d771e9c1-4f26-40dc-8617-ce58c4b53702", "google-adwords", "advertising"),
    ("3c9b37f8-13a6-43d8-bad3-b863b941fedd", "google-big-query", "database"),
    ("cc6a4487-9e91-433e-a3a3-9cf6626c1806", "hubspot", "marketing-automation"),
    ("3000eb99-cd47-43f3-827c-43caf170f015", "maria-db", "database"),
    ("26d738e0-8963-47ea-aadf-c60de735468a", "my-sql", "database"),
    ("74a1c565-4e59-48d7-9d67-7c03b8a13137", "postgre-sql", "database"),
    ("cfc0fee1-7dc0-40ef-b73e-d8b134c436f5", "salesforce", "crm"),
    ("4f63aa36-bd48-4e33-bb83-49fbcd11c708", "shopify", "ecommerce"),
    ("cb66ab34-8619-49cb-96d1-39b37ede86ea", "salesforce-service-cloud", "customer-success"),
    ("eb13cb25-47ab-407f-ba89-c0125281c563", "service-now", "customer-success"),
    ("1f372ff9-38a4-4492-96f5-b9a4e4bd00ec", "sql-server", "database"),
    ("37b6bf40-d318-4655-90be-5cd6f65d334b", "greenplum", "database"),
    ("a49bcc7d-8038-43af-b1e4-5a7a089a7d79", "azure-synapse-analytics", "database"),
    ("221c7626-58f6-4eec-8ee2-042b0226f03b", "paypal", "payments"),
    ("a8b6a1a4-5735-42b4-952c-85dce0ac38b5", "hp-vertica", "database"),
    ("6a8d82bc-1caf-45d1-908d-cadabc9d63a6", "spark", "database"),
    ("aac9bbd4-6c01-46ce-b47e-51c6f0f6db3f", "hive", "database"),
    ("8e6b41a8-d998-4545-ad7d-c6a9fff406c3", "generic-odata", "protocols"),
    ("ecde33f2-c56f-46cc-bdea-ad151c16cd69", "azure-table-storage", "database"),
    ("102706fb-a5cd-42ee-afe0-bc42f017ff43", "phoenix", "database"),
    ("09182899-b429-40c9-a15a-bf3ddbc8ced7", "ibm-db2", "database"),
    ("0479cc14-7651-4354-b233-7480606c2ac3", "azure-data-explorer", "database"),
    ("d6b52d86-f0f8-475f-89d4-ce54c8527328", "oracle", "database"),
    ("a8f4d393-1a6b-43f3-931f-91a16ed857f4", "cassandra", "database"),
    ("1fe283f6-9bec-11ea-bb37-0242ac130002", "couchbase", "database"),
    ("fcad62f3-09b0-41d3-be11-449d5a621b69", "veeva-crm", "crm"),
    ("ea1c2a08-b722-11eb-8529-0242ac130003", "salesforce-marketing-cloud", "marketing-automation"),
    ("35d6c4d8-c9a9-11eb-b8bc-0242ac130003", "oracle-eloqua", "marketing-automation"),
    ("ff4274f2-c9a9-11eb-b8bc-0242ac130003", "oracle-responsys", "marketing-automation"),
    ("ba5126ec-c9ac-11eb-b8bc-0242ac130003", "oracle-service-cloud", "customer-success"),
    ("b2e08744-4f1a-40ce-af30-7abac3e23cf3", "snowflake", "database"),
    ("929e4450-0237-4ed2-9404-b7e1e0a00309", "zoho-crm", "crm"),
    ("2acf109f-9b66-4d5e-bc18-ebb2adcff8d5", "square", "payments"),
    ("2fa8af9c-2d1a-43ea-a253-f00a00c74412", "teradata-vantage", "database"),
    ("e9d7ec6b-0873-4e57-ad21-b3a7c65e310b", "databricks", "database"),
)

SOURCE_SPEC_IDS: tuple[str, ...] = tuple(spec_id for spec_id, _, _ in _SOURCES)
_PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"


def _draft7(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": properties,
        "required": required,
        **extra,
    }


def _auth_specs(category: str) -> list[dict[str, Any]]:
    """Databases authenticate with a connection string; the others with a generic secret."""
    if category == "database":
        secret = {"connectionString": {"type": "string", "format": "password"}}
        return [
            {
                "name": CONNECTION_STRING_AUTH,
                "type": "ConnectionString",
                "spec": _draft7(secret, ["connectionString"]),
            }
        ]
    basic = {
        "username": {"type": "string"},
        "password": {"type": "string", "format": "password"},
    }
    return [{"name": "Basic Authentication", "type": "Basic", "spec": _draft7(basic, ["username"])}]


def _source_connection_spec(spec_id: str, name: str, category: str) -> dict[str, Any]:
    table_params = {"tableName": {"type": "string"}, "columns": {"type": "array"}}
    return {
        "id": spec_id,
        "name": name,
        "providerId": _PROVIDER_ID,
        "version": "1.0",
        "attributes": {"category": category, "connectorName": name, "isSource": True},
        "authSpec": _auth_specs(category),
        "sourceSpec": {
            "name": name,
            "type": category,
            "attributes": {"uiAttributes": {"isSource": True, "category": category, "label": name}},
            "spec": _draft7(table_params, ["tableName"]),
        },
        "permissionsInfo": _permissions(),
    }


def _permissions() -> dict[str, Any]:
    def level(permission: str) -> list[dict[str, Any]]:
        """One permission level of the Sources permission."""
        return [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": [permission]}]

    return {"view": level("read"), "manage": level("write")}


def _data_lake_spec() -> dict[str, Any]:
    target_params = {"dataSetId": {"type": "string"}}
    return {
        "id": DATA_LAKE_SPEC_ID,
        "name": "Data Lake",
        "providerId": "521eee4d-8cbe-4906-bb48-fb6bd4450033",
        "version": "1.0",
        "attributes": {"isTarget": True},
        "authSpec": [],
        "targetSpec": {"name": "Data Lake", "spec": _draft7(target_params, ["dataSetId"])},
        "permissionsInfo": _permissions(),
    }


def connection_specs() -> list[dict[str, Any]]:
    """Every connection spec: the CRMToAEP sources, then the data lake target."""
    return [_source_connection_spec(*row) for row in _SOURCES] + [_data_lake_spec()]


def _schedule_spec() -> dict[str, Any]:
    once = {"properties": {"frequency": {"const": "once"}}}
    never = [{"not": {"required": ["interval"]}}, {"not": {"required": ["backfill"]}}]
    minute = {"properties": {"frequency": {"const": "minute"}}}
    properties = {
        "startTime": {"description": "epoch time", "type": "integer"},
        "frequency": {"type": "string", "enum": ["once", "minute", "hour", "day", "week"]},
        "interval": {"type": "integer"},
        "backfill": {"type": "boolean", "default": True},
    }
    rules = {
        "if": once,
        "then": {"allOf": never},
        "else": {
            "required": ["interval"],
            "if": minute,
            "then": {"properties": {"interval": {"minimum": 15}}},
            "else": {"properties": {"interval": {"minimum": 1}}},
        },
    }
    return {
        "name": "PeriodicSchedule",
        "type": "Periodic",
        "spec": _draft7(properties, ["startTime", "frequency"], **rules),
    }


def _delta_column() -> dict[str, Any]:
    fields = {k: {"type": "string"} for k in ("name", "dateFormat", "timezone")}
    return {"type": "object", "properties": fields, "required": ["name"]}


def _transformation_spec() -> list[dict[str, Any]]:
    mapping = {"mappingId": {"type": "string"}, "mappingVersion": {"type": "string"}}
    return [
        {"name": "Copy", "spec": _draft7({"deltaColumn": _delta_column()}, ["deltaColumn"])},
        {"name": "Mapping", "spec": _draft7(mapping, [])},
    ]


def _run_spec() -> dict[str, Any]:
    epoch = {"type": "integer"}
    properties = {
        "startTime": epoch,
        "windowStartTime": epoch,
        "windowEndTime": epoch,
        "deltaColumn": _delta_column(),
    }
    required = ["startTime", "windowStartTime", "windowEndTime", "deltaColumn"]
    return {"name": "ProviderParams", "spec": _draft7(properties, required)}


def crm_to_aep() -> dict[str, Any]:
    """The CRMToAEP flow spec: database and CRM sources into the data lake."""
    option_properties = {
        "errorDiagnosticsEnabled": {"type": "boolean", "default": False},
        "partialIngestionPercent": {"type": "number", "exclusiveMinimum": 0},
    }
    return {
        "id": CRM_TO_AEP_ID,
        "name": "CRMToAEP",
        "providerId": _PROVIDER_ID,
        "version": "1.0",
        "attributes": {
            "isSourceFlow": True,
            "flacValidationSupported": True,
            "frequency": "batch",
            "notification": {"category": "sources", "flowRun": {"enabled": True}},
        },
        "sourceConnectionSpecIds": list(SOURCE_SPEC_IDS),
        "targetConnectionSpecIds": [DATA_LAKE_SPEC_ID],
        "permissionsInfo": _permissions(),
        "optionSpec": {"name": "OptionSpec", "spec": _draft7(option_properties, [])},
        "scheduleSpec": _schedule_spec(),
        "transformationSpec": _transformation_spec(),
        "runSpec": _run_spec(),
    }


def flow_specs() -> list[dict[str, Any]]:
    """Every flow spec the emulator knows."""
    return [crm_to_aep()]

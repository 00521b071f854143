"""The connector catalogue: every source of the CRMToAEP flow spec with its connection spec id."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

DEFAULT_DATE_FORMAT = "yyyy-MM-dd HH:mm:ss"
"""The delta-column date format of databases and CRMs, and the request's default."""

ISO_DATE_FORMAT = "yyyy-MM-ddTHH:mm:ssZ"
"""The delta-column date format of Azure Table Storage and Microsoft Dynamics."""


@dataclass(frozen=True, slots=True)
class Connector:
    """One source connector: its short name, its connection spec id and what it is."""

    name: str
    spec_id: str
    title: str
    database: bool = True
    date_format: str = DEFAULT_DATE_FORMAT


def _application(
    name: str, spec_id: str, title: str, date_format: str = DEFAULT_DATE_FORMAT
) -> Connector:
    """A CRM or application source of the flow spec: not one of the contract's databases."""
    return Connector(name, spec_id, title, database=False, date_format=date_format)


_ALL = (
    # The databases, named in contract 2.1 (their short names are the contract's).
    Connector("postgresql", "74a1c565-4e59-48d7-9d67-7c03b8a13137", "PostgreSQL"),
    Connector("mysql", "26d738e0-8963-47ea-aadf-c60de735468a", "MySQL"),
    # The tutorial's appendix misprints this id without its leading "3"; this is the real one.
    Connector("mariadb", "3000eb99-cd47-43f3-827c-43caf170f015", "MariaDB"),
    Connector("sql-server", "1f372ff9-38a4-4492-96f5-b9a4e4bd00ec", "Microsoft SQL Server"),
    Connector("oracle", "d6b52d86-f0f8-475f-89d4-ce54c8527328", "Oracle"),
    Connector("db2", "09182899-b429-40c9-a15a-bf3ddbc8ced7", "IBM DB2"),
    Connector("redshift", "3416976c-a9ca-4bba-901a-1f08f66978ff", "Amazon Redshift"),
    Connector("bigquery", "3c9b37f8-13a6-43d8-bad3-b863b941fedd", "Google BigQuery"),
    Connector("snowflake", "b2e08744-4f1a-40ce-af30-7abac3e23cf3", "Snowflake"),
    Connector("greenplum", "37b6bf40-d318-4655-90be-5cd6f65d334b", "Greenplum"),
    Connector("synapse", "a49bcc7d-8038-43af-b1e4-5a7a089a7d79", "Azure Synapse Analytics"),
    Connector(
        "azure-table-storage",
        "ecde33f2-c56f-46cc-bdea-ad151c16cd69",
        "Azure Table Storage",
        date_format=ISO_DATE_FORMAT,
    ),
    Connector("azure-data-explorer", "0479cc14-7651-4354-b233-7480606c2ac3", "Azure Data Explorer"),
    Connector("hive", "aac9bbd4-6c01-46ce-b47e-51c6f0f6db3f", "Apache Hive on Azure HDInsights"),
    Connector("spark", "6a8d82bc-1caf-45d1-908d-cadabc9d63a6", "Apache Spark on Azure HDInsights"),
    Connector("phoenix", "102706fb-a5cd-42ee-afe0-bc42f017ff43", "Apache Phoenix"),
    Connector("couchbase", "1fe283f6-9bec-11ea-bb37-0242ac130002", "Couchbase"),
    Connector("teradata", "2fa8af9c-2d1a-43ea-a253-f00a00c74412", "Teradata Vantage"),
    Connector("vertica", "a8b6a1a4-5735-42b4-952c-85dce0ac38b5", "HP Vertica"),
    Connector("cassandra", "a8f4d393-1a6b-43f3-931f-91a16ed857f4", "Apache Cassandra"),
    Connector("databricks", "e9d7ec6b-0873-4e57-ad21-b3a7c65e310b", "Azure Databricks"),
    # CRMs and applications of the same flow spec: the contract names only their spec ids; the
    # short names are ours (the Platform's `connectionSpecs` name where it has one).
    _application(
        "dynamics-online",
        "38ad80fe-8b06-4938-94f4-d4ee80266b07",
        "Microsoft Dynamics",
        date_format=ISO_DATE_FORMAT,
    ),
    _application("google-ads", "d771e9c1-4f26-40dc-8617-ce58c4b53702", "Google Ads"),
    _application("hubspot", "cc6a4487-9e91-433e-a3a3-9cf6626c1806", "HubSpot"),
    _application("salesforce", "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5", "Salesforce"),
    _application("shopify", "4f63aa36-bd48-4e33-bb83-49fbcd11c708", "Shopify"),
    _application(
        "salesforce-service-cloud",
        "cb66ab34-8619-49cb-96d1-39b37ede86ea",
        "Salesforce Service Cloud",
    ),
    _application("service-now", "eb13cb25-47ab-407f-ba89-c0125281c563", "ServiceNow"),
    _application("paypal", "221c7626-58f6-4eec-8ee2-042b0226f03b", "PayPal"),
    _application("odata", "8e6b41a8-d998-4545-ad7d-c6a9fff406c3", "Generic OData"),
    _application("veeva-crm", "fcad62f3-09b0-41d3-be11-449d5a621b69", "Veeva CRM"),
    _application(
        "salesforce-marketing-cloud",
        "ea1c2a08-b722-11eb-8529-0242ac130003",
        "Salesforce Marketing Cloud",
    ),
    _application("oracle-eloqua", "35d6c4d8-c9a9-11eb-b8bc-0242ac130003", "Oracle Eloqua"),
    _application("oracle-responsys", "ff4274f2-c9a9-11eb-b8bc-0242ac130003", "Oracle Responsys"),
    _application(
        "oracle-service-cloud", "ba5126ec-c9ac-11eb-b8bc-0242ac130003", "Oracle Service Cloud"
    ),
    _application("zoho-crm", "929e4450-0237-4ed2-9404-b7e1e0a00309", "Zoho CRM"),
    _application("square", "2acf109f-9b66-4d5e-bc18-ebb2adcff8d5", "Square"),
)

CONNECTORS: MappingProxyType[str, Connector] = MappingProxyType({c.name: c for c in _ALL})
"""Every connector of the CRMToAEP flow spec, by short name."""

BY_SPEC_ID: MappingProxyType[str, Connector] = MappingProxyType({c.spec_id: c for c in _ALL})
"""The same connectors, by connection spec id."""

DATABASE_NAMES: tuple[str, ...] = tuple(c.name for c in _ALL if c.database)
"""The contract's short names, the databases (contract 2.1)."""


class UnknownConnectorError(ValueError):
    """A connector name or spec id that the CRMToAEP flow spec does not list."""


def find_connector(name_or_spec_id: str) -> Connector | None:
    """The connector with this short name or connection spec id, or None."""
    return CONNECTORS.get(name_or_spec_id) or BY_SPEC_ID.get(name_or_spec_id.lower())


def resolve_connector(name_or_spec_id: str) -> Connector:
    """The connector with this short name or connection spec id; UnknownConnectorError if none."""
    found = find_connector(name_or_spec_id)
    if found is not None:
        return found
    raise UnknownConnectorError(unknown_connector_message(name_or_spec_id))


def unknown_connector_message(value: str) -> str:
    """Say that `value` is no connector, list the valid names, and point out a misprinted id."""
    hint = ""
    near = [c for c in _ALL if len(value) >= 30 and c.spec_id.endswith(value.lower())]
    if near:
        hint = f" (did you mean {near[0].spec_id}, the {near[0].title} spec id?)"
    names = ", ".join(DATABASE_NAMES)
    others = ", ".join(c.name for c in _ALL if not c.database)
    return (
        f"unknown connector {value!r}{hint}: use one of {names}; "
        f"also {others}; or a connection spec id of the CRMToAEP flow spec"
    )

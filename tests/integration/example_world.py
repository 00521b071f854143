"""What the spec-example tests need: one org's resources, and how each example is sent.

A ``World`` creates, on first use, the resources an example refers to (a base connection, a
schema and its dataset, a mapping set, a flow and its runs...), in an IMS org of its own. A
``Case`` says how one operation's example is sent to the emulator: the ids it substitutes for
the example's (from the world), the headers the operation requires (``if-match``), and, where
the example cannot be sent as written, the one change it needs and why (``why`` is what
docs/emulator.md lists).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from emulator.specs import CRM_TO_AEP_ID
from emulator.testing import MARIADB_SPEC_ID
from tests.integration.flowservice_support import FS, created_id, source_body, target_body
from tests.integration.registry_support import CONVERSION, PROFILE, PlatformApi

Json = Any
MAPPED = {"id": "_id", "firstName": "person.name.firstName", "lastName": "person.name.lastName"}


class World:
    """One IMS org's resources for the examples, each created when first asked for."""

    def __init__(self, api: PlatformApi) -> None:
        self.api = api
        self.org = api.org
        self.tenant = api.tenant

    @cached_property
    def base_id(self) -> str:
        """A MariaDB base connection."""
        return self.api.emulator.create_base_connection(MARIADB_SPEC_ID, org=self.org)

    @cached_property
    def _schema_and_dataset(self) -> tuple[str, str]:
        return self.api.emulator.create_schema_and_dataset("example schema", org=self.org)

    @property
    def schema_id(self) -> str:
        """A Profile schema with the person field group."""
        return self._schema_and_dataset[0]

    @property
    def dataset_id(self) -> str:
        """A dataset of ``schema_id``."""
        return self._schema_and_dataset[1]

    @cached_property
    def unused_schema_id(self) -> str:
        """A Profile schema no dataset refers to: one a dataset uses cannot be deleted."""
        return str(self.api.create_schema("example unused schema", PROFILE)["$id"])

    @cached_property
    def mapping_set_id(self) -> str:
        """A mapping set onto ``schema_id`` (id, firstName, lastName)."""
        return self.api.emulator.create_mapping_set(self.schema_id, MAPPED, org=self.org)

    @cached_property
    def mapping_id(self) -> str:
        """The id of the mapping set's first mapping."""
        answer = self.api.request("GET", f"{CONVERSION}/mappingSets/{self.mapping_set_id}")
        return str(answer.json()["mappings"][0]["id"])

    @cached_property
    def source_id(self) -> str:
        """A table source connection on ``base_id``."""
        return created_id(
            self.api.request("POST", f"{FS}/sourceConnections", json=source_body(self.base_id))
        )

    @cached_property
    def target_id(self) -> str:
        """A data lake target connection to ``dataset_id``."""
        body = target_body(self.schema_id, self.dataset_id)
        return created_id(self.api.request("POST", f"{FS}/targetConnections", json=body))

    @cached_property
    def flow_id(self) -> str:
        """A CRMToAEP flow from ``source_id`` to ``target_id`` every 15 minutes."""
        body = {
            "name": "example flow",
            "flowSpec": {"id": CRM_TO_AEP_ID, "version": "1.0"},
            "sourceConnectionIds": [self.source_id],
            "targetConnectionIds": [self.target_id],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}},
                {
                    "name": "Mapping",
                    "params": {"mappingId": self.mapping_set_id, "mappingVersion": 0},
                },
            ],
            "scheduleParams": {"startTime": 1612310466, "frequency": "minute", "interval": 15},
        }
        return created_id(self.api.request("POST", f"{FS}/flows", json=body))

    @cached_property
    def run_id(self) -> str:
        """A run of ``flow_id`` (the emulator's clock is moved on an hour)."""
        flow_id = self.flow_id
        self.api.emulator.advance_clock(3600)
        runs = self.api.request("GET", f"{FS}/runs", params={"property": f"flowId=={flow_id}"})
        return str(runs.json()["items"][0]["id"])

    @cached_property
    def field_group_id(self) -> str:
        """A tenant field group (one string field) for the Profile class."""
        return self.api.create_field_group("example fields", {"tier": {"type": "string"}})

    def etag(self, kind: str, item_id: str) -> str:
        """The current etag of a Flow Service resource."""
        answer = self.api.request("GET", f"{FS}/{kind}/{item_id}")
        return str(answer.json()["items"][0]["etag"])

    def placeholders(self) -> dict[str, str]:
        """What the documents' placeholders stand for in this world."""
        return {"{TENANT_ID}": self.tenant, "{TENANT}": self.tenant, "{IMS_ORG}": self.org}


def _nothing(world: World) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Case:
    """How one operation's example is sent to the emulator and its answer read."""

    given: Callable[[World], object] = _nothing  # resources to create first (for lists)
    path: Callable[[World], dict[str, str]] = _nothing  # path parameters
    ids: Callable[[World], dict[str, str]] = _nothing  # example value -> this world's value
    headers: Callable[[World], dict[str, str]] = _nothing
    edit: Callable[[World, Json], Json] | None = None  # the change the example needs...
    why: str = ""  # ...and why (listed in docs/emulator.md)
    query: dict[str, str] = field(default_factory=dict)  # beyond the required parameters
    accept: str | None = None
    each_item: bool = False  # the documented response describes each item of the list answered
    fix_example: Callable[[Json], Json] | None = None  # a response example that is wrong...
    example_why: str = ""  # ...and why it is set right before it is compared


def substituted(value: Json, ids: dict[str, str]) -> Json:
    """An example with every string equal to a key of ``ids`` replaced by its value."""
    if isinstance(value, dict):
        return {key: substituted(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [substituted(item, ids) for item in value]
    if isinstance(value, str):
        return ids.get(value, value)
    return value

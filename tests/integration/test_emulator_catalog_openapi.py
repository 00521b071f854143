"""Catalog's answers for the tutorial's dataset steps conform to Adobe's catalog.yaml."""

from __future__ import annotations

import pytest

from tests.integration.adobe_specs import require, response_errors
from tests.integration.registry_support import (
    CATALOG,
    PERSON_DETAILS,
    PROFILE,
    PlatformApi,
    api,
    dataset_body,
    emulator,
)

__all__ = ["api", "emulator"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration


def test_the_tutorials_dataset_steps_answer_as_the_spec_says(api: PlatformApi) -> None:
    require("catalog.yaml")
    schema_id = api.create_schema("crm people", PROFILE, PERSON_DETAILS)["$id"]
    body = {
        **dataset_body("crm people (dataset) [r-1]", schema_id),
        "description": "people from the CRM",
        "tags": {"unifiedProfile": ["enabled:true"]},
    }
    created = api.request("POST", f"{CATALOG}/dataSets?requestDataSource=true", json=body)
    assert created.status_code == 201
    dataset_id = created.json()[0].rsplit("/", 1)[-1]
    answers = [
        created,
        api.request("GET", f"{CATALOG}/dataSets/{dataset_id}"),
        api.request("GET", f"{CATALOG}/dataSets", params={"name": body["name"], "limit": 100}),
        api.request("GET", f"{CATALOG}/dataSets", params={"properties": "name,schemaRef"}),
        api.request("DELETE", f"{CATALOG}/dataSets/{dataset_id}"),
    ]
    for answer in answers:
        assert answer.status_code < 300, answer.text
        assert response_errors(answer) == [], answer.request.url

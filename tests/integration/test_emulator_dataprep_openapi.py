"""Data Prep's answers for the tutorial's mapping set steps conform to Adobe's data-prep.yaml.

The document is read as ``adobe_specs`` adjusts it where it contradicts its own examples (epoch
milliseconds for ``createdDate``/``modifiedDate``, ``sourceType`` ``text/x.schema-path`` on
stored mappings), as the emulator follows the service the examples show. (``GET
/mappingSets/{id}/mappings`` is left out here: the document types the list it answers as one
mapping; the spec-example test checks each of its items.)
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.adobe_specs import require, response_errors
from tests.integration.registry_support import (
    CONVERSION,
    PERSON_DETAILS,
    PROFILE,
    PlatformApi,
    api,
    emulator,
)
from tests.integration.test_emulator_dataprep import MAPPINGS, legacy_body, output_body

__all__ = ["api", "emulator"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration


@pytest.mark.parametrize("dialect", [output_body, legacy_body])
def test_the_tutorials_mapping_set_steps_answer_as_the_spec_says(
    api: PlatformApi, dialect: Any
) -> None:
    require("data-prep.yaml")
    schema_id = api.create_schema("crm people", PROFILE, PERSON_DETAILS)["$id"]
    body = dialect(schema_id, MAPPINGS[:3])
    created = api.request("POST", f"{CONVERSION}/mappingSets", json=body)
    path = f"{CONVERSION}/mappingSets/{created.json()['id']}"
    answers = [
        created,
        api.request("GET", path),
        api.request("PUT", path, json=body),
        api.request("GET", f"{CONVERSION}/mappingSets", params={"limit": 10, "start": 0}),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert response_errors(answer) == [], answer.request.url

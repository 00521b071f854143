"""Run responses (`GET /runs`, `GET /runs/{id}`) validated against Adobe's Flow Service spec.

The spec is read through ``adobe_specs``; the test skips, saying so, where it is absent.
"""

from __future__ import annotations

import pytest

from emulator.testing import FLOWSERVICE, running_emulator
from tests.integration.adobe_specs import require
from tests.integration.platform_support import created_dataflow, dataflow_request
from tests.integration.test_emulator_openapi import validate

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("rate", [0, 1])
def test_run_lists_and_runs_by_id_answer_as_adobes_spec_says(rate: float) -> None:
    require("flow-service.yaml")
    with running_emulator(faults={"seed": 3, "run_failure_rate": rate}) as emu:
        flow = created_dataflow(
            emu, dataflow_request("runs openapi", emu.create_base_connection())
        ).flow
        emu.advance_clock(3600)
        with emu.client() as http:
            listed = validate(
                http.get(f"{FLOWSERVICE}/runs", params={"property": f"flowId=={flow}", "limit": 2})
            )
            assert listed["items"]
            for run in listed["items"]:
                assert validate(http.get(f"{FLOWSERVICE}/runs/{run['id']}")) == {"items": [run]}
            validate(http.get(f"{FLOWSERVICE}/flows/{flow}"))

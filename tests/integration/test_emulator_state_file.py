"""``emulator --state-file``: resources survive a graceful restart; issued tokens do not."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from emulator.testing import CATALOG, FLOWSERVICE, SCHEMAREGISTRY, emulator_process

pytestmark = pytest.mark.integration

HOUR = 3600.0


def test_a_gracefully_restarted_emulator_keeps_resources_clock_and_name_lookups(
    tmp_path: Path,
) -> None:
    state_file = tmp_path / "emulator-state.json"
    with emulator_process(state_file=state_file) as first:
        base_id = first.create_base_connection(name="kept base connection")
        schema_id, dataset_id = first.create_schema_and_dataset("Kept Profiles")
        first.advance_clock(HOUR)
        before = first.resources()
    assert first.process.returncode is not None
    assert state_file.exists()

    with emulator_process(state_file=state_file) as second:
        assert second.resources() == before
        assert second.advance_clock(0)["nowMs"] / 1000 >= time.time() + HOUR - 60
        with second.client() as http:
            by_name = http.get(
                f"{FLOWSERVICE}/connections", params={"property": "name==kept base connection"}
            )
            datasets = http.get(f"{CATALOG}/dataSets", params={"name": "Kept Profiles"})
            schema = http.get(
                f"{SCHEMAREGISTRY}/tenant/schemas/{quote(schema_id, safe='')}",
                headers={"Accept": "application/vnd.adobe.xed+json;version=1"},
            )
        assert [item["id"] for item in by_name.json()["items"]] == [base_id]
        assert list(datasets.json()) == [dataset_id]
        assert schema.status_code == 200
        assert schema.json()["$id"] == schema_id


def test_a_token_issued_before_the_restart_is_refused_with_401013(tmp_path: Path) -> None:
    state_file = tmp_path / "emulator-state.json"
    with emulator_process(state_file=state_file) as first:
        old_headers = first.headers()
        assert httpx.get(f"{first.url}{FLOWSERVICE}/connections", headers=old_headers).is_success
        port = int(first.url.rsplit(":", 1)[1])

    with emulator_process(port=port, state_file=state_file) as second:
        refused = httpx.get(f"{second.url}{FLOWSERVICE}/connections", headers=old_headers)
        assert refused.status_code == 401
        assert refused.json()["error_code"] == "401013"
        renewed = httpx.get(f"{second.url}{FLOWSERVICE}/connections", headers=second.headers())
        assert renewed.is_success


def test_an_unreadable_state_file_stops_the_emulator_with_a_usage_error(tmp_path: Path) -> None:
    state_file = tmp_path / "broken.json"
    state_file.write_text("{not json", encoding="utf-8")
    with (
        pytest.raises(RuntimeError, match="is not JSON"),
        emulator_process(state_file=state_file),
    ):
        pass

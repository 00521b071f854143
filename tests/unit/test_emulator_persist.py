"""The emulator's state file: what a snapshot holds and how a restore rebuilds the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator import persist
from emulator.state import CONNECTIONS, DATASETS, RUNS, SCHEMAS, Scope, Store

ACME = Scope("ACME@AdobeOrg", "prod")
DEV = Scope("ACME@AdobeOrg", "dev")


def _filled_store() -> Store:
    store = Store(sandboxes=("dev",))
    store.collection(ACME, CONNECTIONS).add("c1", {"id": "c1", "name": "crm"})
    store.collection(ACME, CONNECTIONS).add("c2", {"id": "c2", "name": "erp"})
    store.collection(ACME, SCHEMAS).add("s1", {"title": "People", "meta:altId": "_acme.s1"})
    store.collection(DEV, DATASETS).add("d1", {"id": "d1", "name": "people"})
    store.collection(DEV, RUNS).add("r1", {"id": "r1", "flowId": "f1"})
    store.clock.advance(7200)
    return store


def test_a_restored_store_holds_the_same_items_in_the_same_order_with_working_indexes() -> None:
    restored = Store(sandboxes=("dev",))
    persist.restore(restored, json.loads(json.dumps(persist.snapshot(_filled_store()))))

    assert [i for i, _ in restored.collection(ACME, CONNECTIONS).items()] == ["c1", "c2"]
    assert restored.collection(ACME, CONNECTIONS).find("name", "erp") == [
        {"id": "c2", "name": "erp"}
    ]
    assert restored.collection(ACME, SCHEMAS).find("meta:altId", "_acme.s1")[0]["title"] == "People"
    assert restored.collection(DEV, DATASETS).find("name", "people")[0]["id"] == "d1"
    assert restored.collection(DEV, RUNS).find("flowId", "f1")[0]["id"] == "r1"
    assert restored.clock.offset == 7200


def test_save_then_load_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    persist.save(_filled_store(), path)
    restored = Store()

    assert persist.load(restored, path) is True
    assert persist.snapshot(restored) == persist.snapshot(_filled_store())
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_loading_a_missing_file_leaves_the_store_empty(tmp_path: Path) -> None:
    store = Store()
    assert persist.load(store, tmp_path / "absent.json") is False
    assert store.scopes() == []


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"version": 2, "scopes": []},
        {"version": 1},
        {"version": 1, "scopes": [{"org": "o", "sandbox": "prod", "kinds": {"nope": []}}]},
        {"version": 1, "scopes": [{"org": "o", "sandbox": "prod", "kinds": {"flows": [["x"]]}}]},
        {"version": 1, "clockOffset": "soon", "scopes": []},
    ],
)
def test_a_malformed_document_is_refused_with_a_state_file_error(document: Any) -> None:
    with pytest.raises(persist.StateFileError):
        persist.restore(Store(), document)


def test_a_file_that_is_not_json_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(persist.StateFileError, match=r"state\.json is not JSON"):
        persist.load(Store(), path)

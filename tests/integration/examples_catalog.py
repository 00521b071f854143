"""Catalog: how each operation of catalog.yaml has its example sent, or why not."""

from __future__ import annotations

from tests.integration.example_world import Case, World

BATCHES = "Batches are written by ingestion, which the emulator does not run."
ROOT = "Catalog's root (several requests in one call) is not emulated."


def _dataset(world: World) -> dict[str, str]:
    return {"DATASET_ID": world.dataset_id}


CASES: dict[str, Case | str] = {
    "GET /batches": BATCHES,
    "POST /batches": BATCHES,
    "GET /batches/uniques/{FIELD}": BATCHES,
    "GET /batches/{BATCH_ID}": BATCHES,
    "POST /batches/{BATCH_ID}": BATCHES,
    "PUT /batches/{BATCH_ID}": BATCHES,
    "PATCH /batches/{BATCH_ID}": BATCHES,
    "DELETE /batches/{BATCH_ID}": BATCHES,
    "GET /lastBatches": BATCHES,
    "GET /dataSets": Case(given=lambda w: w.dataset_id),
    "POST /dataSets": Case(
        ids=lambda w: {
            "https://ns.adobe.com/{TENANT_ID}/schemas/31670881463308a46f7d2cb09762715": w.schema_id
        }
    ),
    "GET /dataSets/{DATASET_ID}": Case(path=_dataset),
    "PUT /dataSets/{DATASET_ID}": "Replacing a whole dataset is not emulated; PATCH changes one.",
    "PATCH /dataSets/{DATASET_ID}": Case(path=_dataset),
    "DELETE /dataSets/{DATASET_ID}": Case(path=_dataset),
    "GET /dataSets/{id}/credentials": "The emulator has no data lake storage to give access to.",
    "GET /": ROOT,
    "POST /": ROOT,
    "GET /tags/{tagNamespace}": "Tag namespaces are not emulated.",
    "PATCH /v2/dataSets/{DATASET_ID}": "The v2 dataset update is not emulated.",
}

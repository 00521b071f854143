"""Keep the emulator's resources across restarts: a JSON state file, loaded and saved whole.

What is kept: every collection of every scope and the clock's offset. What is not: issued tokens
(a restarted IMS forgets them, so clients renew on 401), faults, the request log and sandboxes
(those come from the command line).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from emulator.state import KINDS, Scope, Store

FORMAT_VERSION = 1


class StateFileError(ValueError):
    """The state file cannot be read, parsed or written."""


def snapshot(store: Store) -> dict[str, Any]:
    """The store's resources and clock offset as one JSON-ready document."""
    scopes = []
    for scope in store.scopes():
        kinds = {
            kind: [[item_id, item] for item_id, item in store.collection(scope, kind).items()]
            for kind in KINDS
        }
        scopes.append({"org": scope.org, "sandbox": scope.sandbox, "kinds": kinds})
    return {"version": FORMAT_VERSION, "clockOffset": store.clock.offset, "scopes": scopes}


def restore(store: Store, document: Any) -> None:
    """Add a snapshot's resources to the store (through ``add``, so indexes are rebuilt)."""
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise StateFileError(f"not an emulator state file of version {FORMAT_VERSION}")
    try:
        store.clock.offset = float(document.get("clockOffset", 0.0))
        for entry in document["scopes"]:
            scope = Scope(str(entry["org"]), str(entry["sandbox"]))
            for kind, pairs in entry["kinds"].items():
                coll = store.collection(scope, kind)
                for item_id, item in pairs:
                    coll.add(str(item_id), dict(item))
    except (KeyError, TypeError, ValueError) as error:
        raise StateFileError(f"malformed state file: {error}") from None


def load(store: Store, path: Path) -> bool:
    """Restore the store from ``path`` when it exists; whether it did."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    except OSError as error:
        raise StateFileError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise StateFileError(f"{path} is not JSON: {error}") from None
    restore(store, document)
    return True


def save(store: Store, path: Path) -> None:
    """Write the store to ``path`` atomically (a temporary file beside it, then ``os.replace``)."""
    text = json.dumps(snapshot(store), separators=(",", ":"))
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise StateFileError(f"cannot write {path}: {error.strerror or error}") from None

"""The emulator's in-memory store: every resource, per org and sandbox, keyed by id.

How a service module uses it (B2: Schema Registry, Catalog, Data Prep do the same as Flow Service):

- Handlers are ``async def`` and never ``await`` between reading and writing the store, so each
  change is atomic on the one event loop; no locks are needed (and none are taken).
- ``store = store_of(request)`` gives the ``Store`` (it lives on ``request.app.state.emulator``);
  ``scope = scope_of(request)`` gives the ``(org, sandbox)`` the gateway already checked.
- ``coll = store.collection(scope, DATASETS)`` is that sandbox's ``Collection`` of one kind:
  ``coll.add(id, item)``, ``coll.get(id)`` (None when absent), ``coll.replace(id, item)``,
  ``coll.remove(id)``, ``coll.find("name", value)`` (indexed: fast with tens of thousands),
  ``coll.values()`` in creation order, ``len(coll)``. Items are plain JSON dicts; do not mutate a
  stored item in place when an indexed field changes: build the new dict and ``replace`` it.
- Ids: ``new_uuid()`` (Flow Service), ``new_hex(24)`` (Catalog datasets), ``new_hex(32)``
  (Data Prep mapping sets, schema ids), ``new_etag()`` (the quoted etag Flow Service returns).
- Time: ``store.clock.now_ms()`` / ``store.clock.now()``; never read the wall clock directly,
  because ``POST /__emulator/clock`` moves this clock.
- The kinds and their name fields are ``KINDS`` below; ``GET /__emulator/resources`` lists every
  kind with ``store.everything(kind)``.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

from starlette.requests import Request

Item = dict[str, Any]

CONNECTIONS = "connections"
SOURCE_CONNECTIONS = "sourceConnections"
TARGET_CONNECTIONS = "targetConnections"
FLOWS = "flows"
SCHEMAS = "schemas"
FIELD_GROUPS = "fieldGroups"
DATASETS = "dataSets"
MAPPING_SETS = "mappingSets"
RUNS = "runs"

#: Every kind of resource, with the field that names it (None: the kind has no name).
KINDS: dict[str, str | None] = {
    CONNECTIONS: "name",
    SOURCE_CONNECTIONS: "name",
    TARGET_CONNECTIONS: "name",
    FLOWS: "name",
    SCHEMAS: "title",
    FIELD_GROUPS: "title",
    DATASETS: "name",
    MAPPING_SETS: None,
    RUNS: None,
}

#: Extra indexed top-level fields per kind (beyond the name field), for fast lookups.
EXTRA_INDEXES: dict[str, tuple[str, ...]] = {
    SCHEMAS: ("meta:altId",),
    FIELD_GROUPS: ("meta:altId",),
    RUNS: ("flowId",),
    SOURCE_CONNECTIONS: ("baseConnectionId",),
}

PROD = "prod"


class Scope(NamedTuple):
    """One IMS organisation's sandbox: the unit of isolation of every resource."""

    org: str
    sandbox: str


def new_uuid() -> str:
    """A random UUID string, as Flow Service ids are."""
    return str(uuid.uuid4())


def new_hex(length: int) -> str:
    """A random lowercase hex string of ``length`` characters."""
    return secrets.token_hex((length + 1) // 2)[:length]


def new_etag() -> str:
    """A fresh Flow Service etag, quotes included (``"\\"c207...0000\\""``)."""
    return f'"{new_hex(8)}-0000-0200-0000-{new_hex(12)}"'


class Clock:
    """The emulator's clock: wall time plus an offset that ``advance`` moves forward."""

    def __init__(self) -> None:
        self._offset = 0.0

    @property
    def offset(self) -> float:
        """Seconds the clock runs ahead of the wall clock."""
        return self._offset

    @offset.setter
    def offset(self, seconds: float) -> None:
        self._offset = max(0.0, seconds)

    def now(self) -> float:
        """Seconds since the epoch, as the emulator sees them."""
        return time.time() + self._offset

    def now_ms(self) -> int:
        """Milliseconds since the epoch, as Platform audit fields carry them."""
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never backward)."""
        self._offset += max(0.0, seconds)


class Collection:
    """The resources of one kind in one scope: a dict by id plus indexes on chosen fields."""

    def __init__(self, indexed: tuple[str, ...] = ()) -> None:
        self._items: dict[str, Item] = {}
        self._order: dict[str, int] = {}
        self._added = 0
        self._indexes: dict[str, dict[Any, dict[str, None]]] = {f: {} for f in indexed}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def get(self, item_id: str) -> Item | None:
        """The item with this id, or None."""
        return self._items.get(item_id)

    def values(self) -> Iterator[Item]:
        """Every item, oldest first."""
        return iter(list(self._items.values()))

    def items(self) -> Iterator[tuple[str, Item]]:
        """Every ``(id, item)``, oldest first."""
        return iter(list(self._items.items()))

    def add(self, item_id: str, item: Item) -> Item:
        """Store a new item under ``item_id`` and index it; returns it."""
        if item_id in self._items:
            raise KeyError(f"duplicate id {item_id}")
        self._items[item_id] = item
        self._order[item_id] = self._added
        self._added += 1
        self._index(item_id, item)
        return item

    def replace(self, item_id: str, item: Item) -> Item:
        """Replace an existing item (keeping its place in creation order) and re-index it."""
        old = self._items[item_id]
        self._unindex(item_id, old)
        self._items[item_id] = item
        self._index(item_id, item)
        return item

    def remove(self, item_id: str) -> Item | None:
        """Forget the item with this id; returns it, or None when it was not there."""
        old = self._items.pop(item_id, None)
        if old is not None:
            del self._order[item_id]
            self._unindex(item_id, old)
        return old

    def is_indexed(self, field: str) -> bool:
        """Whether ``find`` on this field uses an index."""
        return field in self._indexes

    def find(self, field: str, value: Any) -> list[Item]:
        """Items whose top-level ``field`` equals ``value``, oldest first."""
        index = self._indexes.get(field)
        if index is None:
            return [item for item in self._items.values() if item.get(field) == value]
        return [self._items[i] for i in index.get(_key(value), ())]

    def find_any(self, field: str, values: tuple[Any, ...]) -> list[Item]:
        """Items whose ``field`` (``"id"``: the key) equals any of ``values``, oldest first."""
        if field == "id":
            ids = {v for v in values if isinstance(v, str) and v in self._items}
        else:
            index = self._indexes.get(field)
            if index is None:
                return [item for item in self._items.values() if item.get(field) in values]
            ids = {i for v in values for i in index.get(_key(v), ())}
        return [self._items[i] for i in sorted(ids, key=self._order.__getitem__)]

    def _index(self, item_id: str, item: Item) -> None:
        for field, index in self._indexes.items():
            if field in item:
                index.setdefault(_key(item[field]), {})[item_id] = None

    def _unindex(self, item_id: str, item: Item) -> None:
        for field, index in self._indexes.items():
            if field in item:
                ids = index.get(_key(item[field]))
                if ids is not None:
                    ids.pop(item_id, None)
                    if not ids:
                        del index[_key(item[field])]


def _key(value: Any) -> Any:
    """A hashable form of a field value (lists and dicts are indexed by their repr)."""
    return value if isinstance(value, str | int | float | bool | None) else repr(value)


class Store:
    """Every resource the emulator holds, per scope and kind, plus the clock and sandboxes."""

    def __init__(self, sandboxes: tuple[str, ...] = (), clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.sandboxes: frozenset[str] = frozenset({PROD, *sandboxes})
        self._scopes: dict[Scope, dict[str, Collection]] = {}

    def collection(self, scope: Scope, kind: str) -> Collection:
        """The collection of ``kind`` in ``scope``, created empty on first use."""
        kinds = self._scopes.get(scope)
        if kinds is None:
            kinds = self._scopes[scope] = {}
        coll = kinds.get(kind)
        if coll is None:
            if kind not in KINDS:
                raise KeyError(f"unknown kind {kind}")
            name_field = KINDS[kind]
            indexed = ((name_field,) if name_field else ()) + EXTRA_INDEXES.get(kind, ())
            coll = kinds[kind] = Collection(indexed)
        return coll

    def scopes(self) -> list[Scope]:
        """Every scope that holds (or held) resources."""
        return list(self._scopes)

    def everything(self, kind: str) -> Iterator[tuple[Scope, str, Item]]:
        """Every item of ``kind`` across all scopes, with its scope and id."""
        for scope, kinds in list(self._scopes.items()):
            coll = kinds.get(kind)
            if coll is not None:
                for item_id, item in coll.items():
                    yield scope, item_id, item

    def reset(self) -> None:
        """Forget every resource (sandboxes and the clock stay)."""
        self._scopes.clear()


def store_of(request: Request) -> Store:
    """The store behind this request's app."""
    store: Store = request.app.state.emulator
    return store


def scope_of(request: Request) -> Scope:
    """The org and sandbox of a request that passed the gateway's checks."""
    headers = request.headers
    return Scope(headers.get("x-gw-ims-org-id", ""), headers.get("x-sandbox-name", PROD))

"""The records whose leases a ledger handed out: its copy of what only their holders write.

While a worker holds a lease nobody else writes the record (a takeover bumps the fence first), so
the ledger keeps the record and writes it with one fenced ``UPDATE``, no read first (see
:mod:`worker.ledger.sql`). The copy is bounded; a record it forgot is read again before a write.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from worker.core.record import RequestRecord

HELD_RECORDS = 1024  # far above any worker's concurrency; beyond it, writes read the row first


class HeldLeases:
    """The records whose leases this ledger handed out, newest fence per request, bounded."""

    def __init__(self, size: int = HELD_RECORDS) -> None:
        """Keep at most ``size`` records (the least recently written are forgotten first)."""
        self._size = size
        self._records: OrderedDict[str, RequestRecord] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, request_id: str, fence: int) -> RequestRecord | None:
        """The held record of ``request_id`` if its fence is ``fence``."""
        with self._lock:
            record = self._records.get(request_id)
        return record if record is not None and record.fence == fence else None

    def put(self, record: RequestRecord) -> None:
        """Remember a record while its lease is held; forget it once released."""
        with self._lock:
            known = self._records.get(record.request_id)
            if known is not None and known.fence > record.fence:
                return  # a late write of a stale holder never hides the newer lease
            if record.lease_owner is None:
                self._records.pop(record.request_id, None)
                return
            self._records[record.request_id] = record
            self._records.move_to_end(record.request_id)
            while len(self._records) > self._size:
                self._records.popitem(last=False)

    def drop(self, request_id: str, fence: int) -> None:
        """Forget the record of ``request_id`` if it is still the one with ``fence``."""
        with self._lock:
            known = self._records.get(request_id)
            if known is not None and known.fence == fence:
                del self._records[request_id]

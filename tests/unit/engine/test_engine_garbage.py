"""A finished request leaves no reference cycle behind: its objects go as soon as it ends.

Cycles wait for the cyclic garbage collector, which `dataflow-worker run` runs seldom (it is
tuned for CPU); each request's record, machine and futures would then pile up between its runs.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.unit.engine.fakes import delivery, request, rig


@contextmanager
def cyclic_garbage() -> Iterator[list[object]]:
    """What the collector finds unreachable only through cycles while the block runs."""
    gc.collect()
    flags = gc.get_debug()
    gc.set_debug(gc.DEBUG_SAVEALL)
    found: list[object] = []
    try:
        yield found
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(flags)
        gc.garbage.clear()


def test_requests_that_ran_to_their_end_leave_no_cyclic_garbage(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.handle(delivery(request("warm-up")))  # caches and pools are made once
        with cyclic_garbage() as garbage:
            for n in range(20):
                assert r.handle(delivery(request(f"crm-{n}"))) == "ack"
    kinds = Counter(type(thing).__qualname__ for thing in garbage)
    assert not garbage, f"left in cycles: {kinds.most_common(8)}"

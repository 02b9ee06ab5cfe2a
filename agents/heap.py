"""Keeping the garbage collector off a running fleet: the fleet, its worker processes and the TUI freeze the heap once it has settled."""

from __future__ import annotations

import gc

HEAP_SETTLED_S = 5.0
"""By then the fleet has started and loaded what it keeps for the session (price tables, plans)."""
YOUNG_COLLECTION_AFTER = 10_000
"""Young objects a collection waits for once the heap is frozen (Python's default is 700)."""


def freeze_heap() -> None:
    """Collect, then keep what lives now (modules, widgets, price tables) out of later collections.

    A full collection of the ~130,000 objects a running fleet and its screen hold stalls the
    event loop ~75-110 ms every few seconds; with them frozen it takes a few ms. Then young
    collections wait for YOUNG_COLLECTION_AFTER objects: a streaming fleet makes ~20,000 a second
    and the default 700 ran the collector 30 times a second for ~4% of the process's CPU.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, older, oldest)

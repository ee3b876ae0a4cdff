"""Long-running processes (``relay serve``, ``relay worker``) freeze their start-up heap.

Importing relay, its components and their libraries leaves a few hundred thousand objects
that live as long as the process. Python's cyclic garbage collector would walk all of them in
every full collection, and under load (a webhook burst allocates constantly) those collections
come often. ``gc.freeze()`` moves everything alive at that moment into a permanent generation
the collector skips; objects created later are collected as usual. Measured on figure 2 of
``make bench`` (BENCHMARKS.md): about 5% more deliveries accepted per second; on figure 8, an
execution page of 1,000 steps no longer pauses ~100 ms every few renders.

The server's app freezes in its lifespan (``frozen_heap``), once the executor has started, so
an app an embedder serves gets the same; a worker process freezes once it has set up.
"""

from __future__ import annotations

import contextlib
import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


def freeze_startup_heap() -> int:
    """Collect once, then freeze what is left; returns how many objects are now frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """``freeze_startup_heap`` until the block ends (the server stops): then what was frozen
    is the collector's again (an embedder's process goes on after the app)."""
    freeze_startup_heap()
    try:
        yield
    finally:
        gc.unfreeze()

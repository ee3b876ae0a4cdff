"""The server's long-lived objects kept out of the cyclic garbage collector's full passes.

Everything alive once the server has started (modules, the app and its routes, compiled
templates and queries, the runtime's caches) lives as long as the server. A full collection
walks every tracked object, so on a busy page it walks all of those again; frozen
(``gc.freeze``), they are skipped, and a full pass walks only what requests made. Objects
frozen are still freed by reference counting; only cycles among them wait for the unfreeze.
"""

from __future__ import annotations

import contextlib
import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Collect, then freeze what is left, until the block ends (the server stops)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()

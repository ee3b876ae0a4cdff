"""What every part of the ``Store`` shares: the engine, the keyring and the write backend.

The store is assembled from one mixin per area (instances, executions, state, connections) so
each module stays small while callers see one object with every method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from runtime.store.crypto import Keyring
    from runtime.store.writes import Writes


class StoreBase:
    """The attributes the ``Store``'s mixins read."""

    engine: AsyncEngine
    keyring: Keyring
    #: the database URL, with any password masked
    url: str
    #: the hot path's writes, on the backend ``open_store`` chose
    writes: Writes

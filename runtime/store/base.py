"""What every part of the ``Store`` shares: the engine and the keyring.

The store is assembled from one mixin per area (instances, executions, state) so each module
stays small while the lead's code sees one object with every method.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from runtime.store.crypto import Keyring
from runtime.store.groupcommit import GroupCommit


class StoreBase:
    engine: AsyncEngine
    keyring: Keyring
    #: SQLite files: the hot path's writes, group-committed (``None`` on PostgreSQL)
    group: GroupCommit | None

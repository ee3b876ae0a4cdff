"""relay's durable store: SQLAlchemy Core on SQLite (default) or PostgreSQL, with Alembic
migrations, secrets encrypted at rest and cross-process locks.

``store = await open_store()`` gives a ``Store``; ``store.tokens`` is the ``TokenStore`` that
``runtime.connections`` refreshes tokens through. The hot path's writes go through
``store.writes``, a ``Writes`` backend ``open_store`` picks once (``runtime.store.writes``).
"""

from runtime.store.crypto import DecryptionError, Keyring
from runtime.store.db import StoreUnavailable
from runtime.store.locks import LeaseLocks, LockTimeout
from runtime.store.records import Delivery, ExecutionRow, FlowVersion, Instance
from runtime.store.store import Store, open_store
from runtime.store.tokens import DatabaseTokenStore
from runtime.store.writes import Writes

__all__ = [
    "DatabaseTokenStore",
    "DecryptionError",
    "Delivery",
    "ExecutionRow",
    "FlowVersion",
    "Instance",
    "Keyring",
    "LeaseLocks",
    "LockTimeout",
    "Store",
    "StoreUnavailable",
    "Writes",
    "open_store",
]

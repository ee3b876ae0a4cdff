"""The ``Store``: one object over the database, and ``open_store`` to get one."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import literal, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from runtime.errors import ConfigurationError
from runtime.store.api_tokens import ApiTokenQueries
from runtime.store.connection_status import ConnectionStatusQueries
from runtime.store.connections import ConnectionQueries
from runtime.store.crypto import ENV_KEYS, KEY_FILE, Keyring
from runtime.store.db import (
    StoreUnavailable,
    create_engine,
    default_data_dir,
    masked,
    resolve_url,
)
from runtime.store.deliveries import DeliveryQueries
from runtime.store.execution_feed import ExecutionFeed
from runtime.store.execution_pages import ExecutionPages
from runtime.store.executions import ExecutionQueries
from runtime.store.groupcommit import sqlite_file
from runtime.store.grouped_writes import GroupCommitWrites
from runtime.store.instances import InstanceQueries
from runtime.store.keys import KeyQueries
from runtime.store.lifecycle import LifecycleQueries
from runtime.store.locks import LeaseLocks
from runtime.store.migrate import upgrade
from runtime.store.retention import RetentionQueries
from runtime.store.sqlalchemy_writes import SqlAlchemyWrites
from runtime.store.state import StateQueries
from runtime.store.tables import encrypted_columns
from runtime.store.tallies import Tallies
from runtime.store.tokens import TOKEN_LOCK_LEASE, DatabaseTokenStore

if TYPE_CHECKING:
    from sqlalchemy import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

    from runtime.store.writes import Writes


class Store(
    InstanceQueries,
    LifecycleQueries,
    ExecutionFeed,
    ExecutionQueries,
    ExecutionPages,
    Tallies,
    StateQueries,
    ConnectionQueries,
    ConnectionStatusQueries,
    KeyQueries,
    ApiTokenQueries,
    RetentionQueries,
    DeliveryQueries,
):
    """Instances, tokens, deliveries, executions, state, cursors and connections, on SQLite or
    PostgreSQL.

    Every method is a coroutine that runs its own transaction (committed when it returns).
    Build with ``open_store``; ``close`` when done.
    """

    def __init__(self, engine: AsyncEngine, keyring: Keyring, url: str, writes: Writes) -> None:
        self.engine = engine
        self.keyring = keyring
        #: the hot path's writes (``runtime.store.writes``), on the backend chosen for ``engine``
        self.writes = writes
        #: the database URL, with any password masked
        self.url = url
        #: the ``runtime.connections.TokenStore`` on this database
        self.tokens = DatabaseTokenStore(engine, keyring, LeaseLocks(engine, TOKEN_LOCK_LEASE))
        path = sqlite_file(engine.url)
        #: the SQLite file, if the store is one
        self.file = path
        # which file was opened: one moved, deleted or replaced later is no longer the store
        self._identity = _identity(path) if path is not None else None

    def __repr__(self) -> str:
        return f"<Store {self.url}>"

    async def close(self) -> None:
        """Close the write backend and the engine's connections (a later call reopens them)."""
        await self.writes.close()
        await self.engine.dispose()

    def gone(self) -> str | None:
        """Why the database file is no longer the one this store opened (moved, deleted or
        replaced: writes would land in an unlinked file), or ``None``. One ``stat``: cheap
        enough to ask before acknowledging every delivery."""
        if self._identity is None or self.file is None:
            return None
        try:
            now = _identity(self.file)
        except OSError:
            now = None
        if now == self._identity:
            return None
        return (
            f"the database {self.file} was moved, deleted or replaced while open "
            "(RELAY_HOME moved?): restore it and restart relay"
        )

    async def check_integrity(self) -> None:
        """SQLite's ``quick_check``: a corrupt file is refused (``StoreUnavailable``) before a
        server starts on it. Nothing to do on PostgreSQL."""
        if self.file is None:
            return
        async with self.engine.connect() as conn:
            found = [r[0] for r in await conn.execute(text("PRAGMA quick_check"))]
        if found != ["ok"]:
            raise StoreUnavailable(
                self.file, f"not a relay database or corrupt ({str(found[0])[:200]})"
            )


def _identity(path: str) -> tuple[int, int]:
    found = os.stat(path)
    return found.st_dev, found.st_ino


def choose_writes(engine: AsyncEngine, *, group_commit: bool = True) -> Writes:
    """The write backend for ``engine``: group commit on a SQLite file (unless
    ``group_commit`` is off), SQLAlchemy otherwise."""
    path = sqlite_file(engine.url)
    if path is not None and group_commit:
        return GroupCommitWrites(path, engine)
    return SqlAlchemyWrites(engine)


async def open_store(
    url: str | None = None,
    *,
    data_dir: Path | None = None,
    keyring: Keyring | None = None,
    group_commit: bool = True,
) -> Store:
    """Open (and migrate to the current schema) the store at ``url``.

    ``url`` ``None`` means the SQLite file ``<data_dir>/relay.db``; ``data_dir`` defaults to
    ``$RELAY_HOME`` or the user's data directory. Without ``keyring`` the keys come from
    ``RELAY_SECRET_KEYS`` or ``<data_dir>/secret.key`` (see ``runtime.store.crypto``).

    Where data is expected the store refuses to open rather than start empty (one line each):
    a key file beside a missing or new database (``RELAY_HOME`` moved, the database deleted),
    a database holding encrypted secrets but no key file (a key file is created only together
    with a new store), and keys that cannot decrypt what is stored.

    On a SQLite file the hot path's writes are group-committed; ``group_commit=False`` writes
    them through SQLAlchemy instead, as on PostgreSQL (``runtime.store.writes``).
    """
    directory = data_dir or default_data_dir()
    resolved = resolve_url(url, directory)
    where = sqlite_file(resolved) or masked(resolved)
    key_path = directory / KEY_FILE
    ring, refuse_new = await asyncio.to_thread(
        _keys_before_opening, directory, keyring, resolved, where
    )
    engine = create_engine(resolved)
    try:
        await upgrade(engine, refuse_new=refuse_new)
        if ring is None:
            if await _holds_secrets(engine):
                raise ConfigurationError(
                    f"the database {where} holds encrypted secrets but the key file {key_path} "
                    f"is missing: restore it (or set {ENV_KEYS}); relay does not make a new key "
                    "beside them"
                )
            ring = Keyring.load(directory)  # creates the key file, with the new store
        store = Store(
            engine, ring, masked(resolved), choose_writes(engine, group_commit=group_commit)
        )
        await store.check_keys(where)
    except StoreUnavailable as exc:
        await engine.dispose()
        raise ConfigurationError(f"cannot open the store at {exc.where}: {exc.reason}") from exc
    except (OperationalError, DBAPIError) as exc:
        await engine.dispose()
        text = str(exc.orig).strip()
        raise ConfigurationError(
            f"cannot open the store at {masked(resolved)}: {type(exc.orig).__name__}: "
            f"{text.splitlines()[0] if text else ''}"
        ) from exc
    except BaseException:
        await engine.dispose()
        raise
    return store


def _keys_before_opening(
    directory: Path, keyring: Keyring | None, resolved: URL, where: str
) -> tuple[Keyring | None, str | None]:
    """The keyring known before the database is opened (None: make one with a new store),
    and why a database found new must be refused (a key file without its database). Reads
    files, so ``open_store`` runs it in a thread."""
    if keyring is not None or os.environ.get(ENV_KEYS, "").strip():
        return keyring or Keyring.load(directory), None
    key_path = directory / KEY_FILE
    if not key_path.exists():
        return None, None
    ring = Keyring.load(directory)  # a key file others may read is refused first
    refuse_new = (
        f"the key file {key_path} exists but the database {where} is new: was RELAY_HOME "
        "moved or the database deleted? Restore it (or move the key file away to start an "
        "empty store)"
    )
    file = sqlite_file(resolved)
    if file is not None and not Path(file).exists():
        raise ConfigurationError(refuse_new.replace("is new", "is missing"))
    return ring, refuse_new


async def _holds_secrets(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        for table, _names in encrypted_columns():
            if (await conn.execute(select(literal(1)).select_from(table).limit(1))).first():
                return True
    return False

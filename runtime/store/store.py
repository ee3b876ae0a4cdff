"""The ``Store``: one object over the database, and ``open_store`` to get one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from runtime.errors import ConfigurationError
from runtime.store.connections import ConnectionQueries
from runtime.store.crypto import Keyring
from runtime.store.db import create_engine, default_data_dir, masked, resolve_url, writer
from runtime.store.executions import ExecutionQueries
from runtime.store.groupcommit import GroupCommit, sqlite_file
from runtime.store.instances import InstanceQueries
from runtime.store.locks import LeaseLocks
from runtime.store.migrate import upgrade
from runtime.store.state import StateQueries
from runtime.store.tables import encrypted_columns
from runtime.store.tokens import TOKEN_LOCK_LEASE, DatabaseTokenStore


class Store(InstanceQueries, ExecutionQueries, StateQueries, ConnectionQueries):
    """Instances, tokens, deliveries, executions, state and cursors, on SQLite or PostgreSQL.

    Every method is a coroutine that runs its own transaction (committed when it returns).
    Build with ``open_store``; ``close`` when done.
    """

    def __init__(self, engine: AsyncEngine, keyring: Keyring, url: str) -> None:
        self.engine = engine
        self.keyring = keyring
        #: the database URL, with any password masked
        self.url = url
        #: the ``runtime.connections.TokenStore`` on this database
        self.tokens = DatabaseTokenStore(engine, keyring, LeaseLocks(engine, TOKEN_LOCK_LEASE))
        path = sqlite_file(engine.url)
        self.group = GroupCommit(path, engine) if path is not None else None

    def __repr__(self) -> str:
        return f"<Store {self.url}>"

    async def close(self) -> None:
        if self.group is not None:
            await self.group.close()
        await self.engine.dispose()

    async def rotate_keys(self, new_key: str | None = None) -> int:
        """Add ``new_key`` (or a generated one, for a key file) as the newest key and re-encrypt
        every encrypted column under it, in one transaction. Returns the rows re-encrypted.

        Other processes reading a key file pick the new key up when they meet a row they cannot
        decrypt; with ``RELAY_SECRET_KEYS``, put the new key first there before restarting them.
        """
        self.keyring.add_key(new_key)
        count = 0
        async with writer(self.engine).begin() as conn:
            for table, names in encrypted_columns():
                keys = list(table.primary_key.columns)
                rows = (await conn.execute(select(*keys, *(table.c[n] for n in names)))).all()
                for row in rows:
                    values = {n: self.keyring.reencrypt(row._mapping[n]) for n in names}
                    where = [k == row._mapping[k.name] for k in keys]
                    await conn.execute(update(table).where(*where).values(values))
                    count += 1
        return count


async def open_store(
    url: str | None = None, *, data_dir: Path | None = None, keyring: Keyring | None = None
) -> Store:
    """Open (and migrate to the current schema) the store at ``url``.

    ``url`` ``None`` means the SQLite file ``<data_dir>/relay.db``; ``data_dir`` defaults to
    ``$RELAY_HOME`` or ``./.relay``. Without ``keyring`` the keys come from
    ``RELAY_SECRET_KEYS`` or ``<data_dir>/secret.key`` (see ``runtime.store.crypto``).
    """
    directory = data_dir or default_data_dir()
    resolved = resolve_url(url, directory)
    ring = keyring or Keyring.load(directory)
    engine = create_engine(resolved)
    try:
        await upgrade(engine)
    except (OperationalError, DBAPIError) as exc:
        await engine.dispose()
        raise ConfigurationError(
            f"cannot open the store at {masked(resolved)}: {type(exc.orig).__name__}: "
            f"{str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ''}"
        ) from exc
    except BaseException:
        await engine.dispose()
        raise
    return Store(engine, ring, masked(resolved))

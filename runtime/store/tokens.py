"""The durable ``TokenStore``: tokens encrypted at rest, locked across processes.

``runtime.connections`` refreshes a token under ``lock(key)`` after re-reading it with
``load``; with this store that lock is a lease lock in the database, so every process and
machine sharing the database refreshes a single-use refresh token at most once. A token is
written in one statement (upsert), so readers see the old token or the new one, never half.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define
from sqlalchemy import select

from runtime.oauth import Token
from runtime.store.db import upsert, writer
from runtime.store.tables import tokens
from runtime.store.values import now

if TYPE_CHECKING:
    import contextlib

    from sqlalchemy.ext.asyncio import AsyncEngine

    from runtime.store.crypto import Keyring
    from runtime.store.locks import LeaseLocks

#: A refresh is one HTTP exchange; 30 s outlasts it, and the lease is renewed while held.
TOKEN_LOCK_LEASE = 30.0


@define
class DatabaseTokenStore:
    """Implements ``runtime.connections.TokenStore`` on the store's database."""

    engine: AsyncEngine
    keyring: Keyring
    locks: LeaseLocks

    async def load(self, key: str) -> Token | None:
        """The stored token for connection ``key``, decrypted; None when there is none."""
        async with self.engine.connect() as conn:
            blob = await conn.scalar(select(tokens.c.token).where(tokens.c.key == key))
        return None if blob is None else Token.from_dict(self.keyring.decrypt_json(blob))

    async def save(self, key: str, token: Token) -> None:
        """Store ``token`` for connection ``key``, encrypted, replacing any earlier one."""
        blob, t = self.keyring.encrypt_json(token.to_dict()), now()
        async with writer(self.engine).begin() as conn:
            values = {"key": key, "token": blob, "updated_at": t}
            await conn.execute(upsert(conn, tokens, values, ["key"]))

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Exclusive across every process sharing the database (lease renewed while held)."""
        return self.locks.hold(f"token:{key}")


if TYPE_CHECKING:
    from runtime.connections import TokenStore

    def _implements_token_store(store: DatabaseTokenStore) -> TokenStore:
        return store  # mypy checks DatabaseTokenStore against the protocol here

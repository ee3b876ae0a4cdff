"""Cross-process lease locks in the ``locks`` table (SQLite and PostgreSQL alike).

Acquiring is one statement, ``INSERT .. ON CONFLICT (name) DO UPDATE .. WHERE expires_at <
now``: it inserts when the lock is free and takes it over when the holder's lease has run out
(a crashed process), and changes nothing otherwise, so exactly one contender sees a changed
row. Losers poll after a short random sleep. While held, a background task renews the lease,
so a slow critical section is not taken over; a holder that dies stops renewing and the lock
frees itself after one lease.

Times are the clients' clocks: across machines, keep them in sync (NTP) well within a lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import uuid
from typing import TYPE_CHECKING

from attrs import define
from sqlalchemy import delete, update

from runtime.background import running
from runtime.store.db import upsert, writer
from runtime.store.tables import locks
from runtime.store.values import now

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine


class LockTimeout(TimeoutError):
    """The lock stayed held by others for longer than the caller was willing to wait."""


@define
class LeaseLocks:
    """Named locks shared by every process using the same database."""

    engine: AsyncEngine
    lease: float = 30.0
    poll: tuple[float, float] = (0.010, 0.020)

    @contextlib.asynccontextmanager
    async def hold(
        self,
        name: str,
        *,
        # checked between attempts: a caller's asyncio.timeout would bound the body too, and
        # could cancel an attempt whose row is written, leaving the lock taken for a lease
        timeout: float | None = None,  # noqa: ASYNC109 (bounds the contending only)
    ) -> AsyncIterator[None]:
        """Hold lock ``name`` for the body of the ``async with``; released on exit. With
        ``timeout``, give up contending after that many seconds (``LockTimeout``)."""
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        await self._acquire(name, owner, None if timeout is None else now() + timeout)
        try:
            async with running(self._renew(name, owner)):
                yield
        finally:
            await self._release(name, owner)

    async def _acquire(self, name: str, owner: str, deadline: float | None) -> None:
        while not await self._try(name, owner):
            if deadline is not None and now() >= deadline:
                raise LockTimeout(f"lock {name!r} is held by another process")
            await asyncio.sleep(random.uniform(*self.poll))

    async def _try(self, name: str, owner: str) -> bool:
        t = now()
        async with writer(self.engine).begin() as conn:
            values = {"name": name, "owner": owner, "expires_at": t + self.lease}
            stmt = upsert(conn, locks, values, ["name"], where=locks.c.expires_at < t)
            return (await conn.execute(stmt)).first() is not None

    async def _renew(self, name: str, owner: str) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            async with writer(self.engine).begin() as conn:
                await conn.execute(
                    update(locks)
                    .where(locks.c.name == name, locks.c.owner == owner)
                    .values(expires_at=now() + self.lease)
                )

    async def _release(self, name: str, owner: str) -> None:
        # only our own row: if our lease ran out and someone took over, theirs stays
        async with writer(self.engine).begin() as conn:
            await conn.execute(delete(locks).where(locks.c.name == name, locks.c.owner == owner))

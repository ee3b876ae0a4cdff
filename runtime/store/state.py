"""State scopes that outlive an execution, and poll cursors.

Scopes and their keys (see ``runtime.context.State``):

- ``flow``: one instance of a flow, across its runs: keyed by instance name;
- ``cross_flow``: every flow of one customer. relay has no instance groups yet, so this is
  keyed by instance name too; when groups arrive, only ``runtime.store.queries.state_keys``
  changes;
- ``integration``: every instance of a flow: keyed by flow name.

The ``execution`` scope lives with its execution row. A save replaces a scope's document as a
whole (last writer wins): actions read-modify-write their state within one execution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from runtime.store.base import StoreBase
from runtime.store.db import upsert, writer
from runtime.store.queries import state_documents, state_keys, stored_scopes
from runtime.store.tables import cursors, state
from runtime.store.values import dumps, loads, now

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


async def write_state(
    conn: AsyncConnection, instance: str | None, flow_name: str, scopes: dict[str, Any]
) -> None:
    """Upsert the persistent scopes present in ``scopes`` (others are left alone)."""
    t = now()
    for scope, key in state_keys(instance, flow_name).items():
        if scope not in scopes:
            continue
        data = dumps(scopes[scope] or {})
        values = {"scope": scope, "key": key, "data": data, "updated_at": t}
        await conn.execute(upsert(conn, state, values, ["scope", "key"]))


class StateQueries(StoreBase):
    """The ``Store``'s state and cursor methods."""

    async def load_state(self, instance: str, flow_name: str) -> dict[str, dict[str, Any]]:
        """``{"flow": .., "cross_flow": .., "integration": ..}``, empty dicts where unset."""
        keys = state_keys(instance, flow_name)
        c = state.c
        query = select(c.scope, c.key, c.data).where(c.key.in_(set(keys.values())))
        async with self.engine.connect() as conn:
            return state_documents(stored_scopes(await conn.execute(query), keys))

    async def save_state(
        self,
        instance: str,
        flow_name: str,
        flow: dict[str, Any],
        cross_flow: dict[str, Any],
        integration: dict[str, Any],
    ) -> None:
        """Write the flow, cross-flow and integration scopes of ``instance``'s ``flow_name``."""
        scopes = {"flow": flow, "cross_flow": cross_flow, "integration": integration}
        async with writer(self.engine).begin() as conn:
            await write_state(conn, instance, flow_name, scopes)

    async def get_cursor(self, instance: str) -> Any:
        """The poll cursor last set for ``instance`` (``None`` before the first poll)."""
        async with self.engine.connect() as conn:
            text = await conn.scalar(select(cursors.c.cursor).where(cursors.c.instance == instance))
        return loads(text)

    async def set_cursor(self, instance: str, cursor: Any) -> None:
        """Store the poll cursor of ``instance`` (what ``get_cursor`` returns next)."""
        text, t = dumps(cursor), now()
        async with writer(self.engine).begin() as conn:
            values = {"instance": instance, "cursor": text, "updated_at": t}
            await conn.execute(upsert(conn, cursors, values, ["instance"]))

"""Named connections: which component connection they are and their (encrypted) fields."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from runtime.store.base import StoreBase
from runtime.store.db import upsert, writer
from runtime.store.tables import connections, tokens
from runtime.store.values import now


class ConnectionQueries(StoreBase):
    """The ``Store``'s named-connection methods."""

    async def save_connection(
        self, name: str, component: str, connection: str, fields: dict[str, Any]
    ) -> None:
        """Create or replace the connection ``name`` (its token is saved separately)."""
        values = {
            "name": name,
            "component": component,
            "connection": connection,
            "fields": self.keyring.encrypt_json(fields),
            "updated_at": now(),
        }
        async with writer(self.engine).begin() as conn:
            await conn.execute(upsert(conn, connections, values, ["name"]))

    async def get_connection(self, name: str) -> tuple[str, str, dict[str, Any]] | None:
        """``(component, connection key, fields)`` of ``name``, or ``None``."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(connections).where(connections.c.name == name))
            ).first()
        if row is None:
            return None
        fields: dict[str, Any] = self.keyring.decrypt_json(row.fields)
        return row.component, row.connection, fields

    async def list_connections(self) -> list[tuple[str, str, str]]:
        """``(name, component, connection key)`` of every stored connection."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(connections).order_by(connections.c.name))
            return [(r.name, r.component, r.connection) for r in rows]

    async def connection_rows(self) -> list[dict[str, Any]]:
        """Every stored connection as ``{name, component, connection, saved_at}`` (when it was
        stored or last replaced), by name; never its fields."""
        c = connections.c
        query = select(c.name, c.component, c.connection, c.updated_at).order_by(c.name)
        async with self.engine.connect() as conn:
            return [
                {
                    "name": r.name,
                    "component": r.component,
                    "connection": r.connection,
                    "saved_at": r.updated_at,
                }
                for r in await conn.execute(query)
            ]

    async def delete_connection(self, name: str) -> None:
        """Forget the connection ``name`` and its token (nothing happens if there is none)."""
        async with writer(self.engine).begin() as conn:
            await conn.execute(delete(connections).where(connections.c.name == name))
            await conn.execute(delete(tokens).where(tokens.c.key == f"connection:{name}"))

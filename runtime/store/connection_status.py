"""What the store knows of each named connection's authorization, for listing its status:
never a field or a token, only whether a token is kept, when it expires, when it was last
written, and whether its last refresh was refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from runtime.oauth import Token
from runtime.store.base import StoreBase
from runtime.store.tables import connections, tokens

#: The stored connection NAME keeps its token under ``connection:NAME`` (``Service.connect``).
TOKEN_KEY_PREFIX = "connection:"  # noqa: S105 - a key prefix, not a secret


class ConnectionStatusQueries(StoreBase):
    """The ``Store``'s read of stored connections with their tokens' metadata."""

    async def connection_overview(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every stored connection (or only ``name``), by name, as ``{name, component,
        connection, saved_at, token}``; ``token`` is ``None`` when none is kept, else
        ``{expires_at, refreshable, updated_at, refresh_failure}`` (its secrets stay here)."""
        c, t = connections.c, tokens.c
        query = (
            select(
                c.name,
                c.component,
                c.connection,
                c.updated_at.label("saved_at"),
                t.token,
                t.updated_at.label("token_written"),
            )
            .select_from(connections.outerjoin(tokens, t.key == TOKEN_KEY_PREFIX + c.name))
            .order_by(c.name)
        )
        if name is not None:
            query = query.where(c.name == name)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            {
                "name": row.name,
                "component": row.component,
                "connection": row.connection,
                "saved_at": row.saved_at,
                "token": None
                if row.token is None
                else self._token_facts(row.token, row.token_written),
            }
            for row in rows
        ]

    def _token_facts(self, blob: bytes, written: float) -> dict[str, Any]:
        token = Token.from_dict(self.keyring.decrypt_json(blob))
        return {
            "expires_at": token.expires_at,
            "refreshable": bool(token.refresh_token),
            "updated_at": written,
            "refresh_failure": token.refresh_failure,
        }

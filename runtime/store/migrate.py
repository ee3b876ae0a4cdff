"""Run the Alembic migrations from code, on the store's own async engine.

Several processes may open a fresh database at the same moment (a server and its workers), so
the upgrade runs inside one write transaction that excludes the others: ``BEGIN IMMEDIATE`` on
SQLite, a transaction-scoped advisory lock on PostgreSQL (per schema). The second process then
finds the database at head and does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from runtime.errors import ConfigurationError
from runtime.store.db import writer

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` built in code, pointing at this package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this version of relay."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine, *, refuse_new: str | None = None) -> bool:
    """Bring the database to the head revision (idempotent, safe to race); whether it was new
    (no relay schema yet). With ``refuse_new``, a new database is not created: that message is
    raised as a ``ConfigurationError`` and the transaction rolled back (data was expected)."""
    async with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('relay-migrate:' || current_schema()))")
            )
        new = await conn.run_sync(_current) is None
        if new and refuse_new is not None:
            raise ConfigurationError(refuse_new)
        await conn.run_sync(_upgrade)
    return new


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (``None`` before the first migration)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _current(connection: Connection) -> Any:
    return MigrationContext.configure(connection).get_current_revision()

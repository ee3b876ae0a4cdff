"""Alembic environment for relay's store, driven from code only (no ``alembic.ini``).

``runtime.store.migrate`` opens a connection on the async engine, enters ``run_sync`` and puts
the synchronous connection in ``config.attributes["connection"]``; this script runs the
revisions on it, inside the caller's transaction. Offline (SQL script) mode is not supported:
relay always migrates a live database.
"""

from __future__ import annotations

from alembic import context

from runtime.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("relay's migrations run through runtime.store.migrate, with a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place: batch mode copies the table instead
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

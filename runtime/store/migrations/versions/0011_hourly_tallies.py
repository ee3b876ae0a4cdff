"""Tallies by the hour an execution was created in, folded into sums that are never rewritten.

The overview draws each instance's last 24 hours by status; counting them from ``executions``
reads every row of the window (half a million rows a day at ingest rates the server takes).
The tallies the triggers append now carry the execution's clock hour
(``floor(created_at / 3600)``), and ``runtime.store.tallies`` folds them into
``execution_tally_sums`` (one row per instance, final status and hour, added to by upsert), so a
day's counts are a sum of a few rows per instance. The existing tallies are derived again from
the executions, by hour, in this migration's transaction.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

# written out in each statement: the final statuses (runtime.store.executions.FINAL) and the
# clock hour of created_at (never negative, so SQLite's truncating cast is a floor)

_SQLITE = [
    """CREATE TRIGGER executions_tally_insert AFTER INSERT ON executions
    WHEN NEW.instance IS NOT NULL AND NEW.status IN ('completed', 'failed', 'canceled')
    BEGIN
        INSERT INTO execution_tallies (instance, status, hour, n)
            VALUES (NEW.instance, NEW.status, CAST(NEW.created_at / 3600 AS INTEGER), 1);
    END""",
    """CREATE TRIGGER executions_tally_update
    AFTER UPDATE OF status, instance, created_at ON executions
    WHEN (OLD.status IS NOT NEW.status OR OLD.instance IS NOT NEW.instance
          OR OLD.created_at IS NOT NEW.created_at)
    BEGIN
        INSERT INTO execution_tallies (instance, status, hour, n)
            SELECT OLD.instance, OLD.status, CAST(OLD.created_at / 3600 AS INTEGER), -1
            WHERE OLD.instance IS NOT NULL AND OLD.status IN ('completed', 'failed', 'canceled');
        INSERT INTO execution_tallies (instance, status, hour, n)
            SELECT NEW.instance, NEW.status, CAST(NEW.created_at / 3600 AS INTEGER), 1
            WHERE NEW.instance IS NOT NULL AND NEW.status IN ('completed', 'failed', 'canceled');
    END""",
    """CREATE TRIGGER executions_tally_delete AFTER DELETE ON executions
    WHEN OLD.instance IS NOT NULL AND OLD.status IN ('completed', 'failed', 'canceled')
    BEGIN
        INSERT INTO execution_tallies (instance, status, hour, n)
            VALUES (OLD.instance, OLD.status, CAST(OLD.created_at / 3600 AS INTEGER), -1);
    END""",
]

_POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION relay_tally_execution() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' AND OLD.instance IS NOT NULL
                AND OLD.status IN ('completed', 'failed', 'canceled') THEN
            INSERT INTO execution_tallies (instance, status, hour, n)
                VALUES (OLD.instance, OLD.status, floor(OLD.created_at / 3600)::bigint, -1);
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.instance IS NOT NULL
                AND NEW.status IN ('completed', 'failed', 'canceled') THEN
            INSERT INTO execution_tallies (instance, status, hour, n)
                VALUES (NEW.instance, NEW.status, floor(NEW.created_at / 3600)::bigint, 1);
        END IF;
        RETURN NULL;
    END
    $$""",
    "DROP TRIGGER executions_tally_update ON executions",
    """CREATE TRIGGER executions_tally_update
    AFTER UPDATE OF status, instance, created_at ON executions
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.instance IS DISTINCT FROM NEW.instance
          OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION relay_tally_execution()""",
]


def upgrade() -> None:
    """Add the hour to the tallies and ``execution_tally_sums``; count the executions there
    are into the sums by hour; the triggers append the hour."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    if not postgresql:  # PostgreSQL's function is replaced below, its insert trigger kept
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER executions_tally_{name}")
    op.add_column(
        "execution_tallies",
        sa.Column("hour", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_table(
        "execution_tally_sums",
        sa.Column("instance", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("instance", "status", "hour", name="pk_execution_tally_sums"),
    )
    op.execute("DELETE FROM execution_tallies")
    if postgresql:
        op.execute(
            "INSERT INTO execution_tally_sums (instance, status, hour, n)"
            " SELECT instance, status, floor(created_at / 3600)::bigint, count(*)"
            " FROM executions WHERE instance IS NOT NULL"
            " AND status IN ('completed', 'failed', 'canceled')"
            " GROUP BY instance, status, floor(created_at / 3600)::bigint"
        )
    else:
        op.execute(
            "INSERT INTO execution_tally_sums (instance, status, hour, n)"
            " SELECT instance, status, CAST(created_at / 3600 AS INTEGER), count(*)"
            " FROM executions WHERE instance IS NOT NULL"
            " AND status IN ('completed', 'failed', 'canceled')"
            " GROUP BY instance, status, CAST(created_at / 3600 AS INTEGER)"
        )
    for statement in _POSTGRESQL if postgresql else _SQLITE:
        op.execute(statement)


def _drop_triggers(postgresql: bool) -> None:
    if postgresql:
        op.execute("DROP TRIGGER executions_tally_insert_delete ON executions")
        op.execute("DROP TRIGGER executions_tally_update ON executions")
        op.execute("DROP FUNCTION relay_tally_execution()")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER executions_tally_{name}")


def downgrade() -> None:
    """Back to 0009's tallies (one row per instance and status, no hour) and its triggers."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    _drop_triggers(postgresql)
    op.drop_table("execution_tally_sums")
    op.execute("DELETE FROM execution_tallies")
    with op.batch_alter_table("execution_tallies") as batch:
        batch.drop_column("hour")
    op.execute(
        "INSERT INTO execution_tallies (instance, status, n)"
        " SELECT instance, status, count(*) FROM executions"
        " WHERE instance IS NOT NULL AND status IN ('completed', 'failed', 'canceled')"
        " GROUP BY instance, status"
    )
    earlier = importlib.import_module("runtime.store.migrations.versions.0009_execution_tallies")
    for statement in earlier._POSTGRESQL if postgresql else earlier._SQLITE:
        op.execute(statement)

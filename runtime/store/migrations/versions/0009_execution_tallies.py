"""Finished executions counted as they finish, so that counting them does not read them all.

``execution_tallies`` holds signed counts by instance and final status: the database's own
triggers add ``+1`` when an execution reaches a final status (completed, failed, canceled) and
``-1`` when one leaves it (deleted by retention, or its instance or status changed), in the
transaction that made the change, whichever writer made it. Rows are only ever appended by
the triggers (no row is updated, so concurrent finishes never wait on one another);
``runtime.store.tallies`` sums them and folds them together now and then. The unfinished
executions are few and counted directly.

A later migration that rebuilds ``executions`` on SQLite (``batch_alter_table``) drops these
triggers with the old table and must create them again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

# written out in each statement (the final statuses: runtime.store.executions.FINAL)

_SQLITE = [
    """CREATE TRIGGER executions_tally_insert AFTER INSERT ON executions
    WHEN NEW.instance IS NOT NULL AND NEW.status IN ('completed', 'failed', 'canceled')
    BEGIN
        INSERT INTO execution_tallies (instance, status, n) VALUES (NEW.instance, NEW.status, 1);
    END""",
    """CREATE TRIGGER executions_tally_update AFTER UPDATE OF status, instance ON executions
    WHEN (OLD.status IS NOT NEW.status OR OLD.instance IS NOT NEW.instance)
    BEGIN
        INSERT INTO execution_tallies (instance, status, n)
            SELECT OLD.instance, OLD.status, -1
            WHERE OLD.instance IS NOT NULL AND OLD.status IN ('completed', 'failed', 'canceled');
        INSERT INTO execution_tallies (instance, status, n)
            SELECT NEW.instance, NEW.status, 1
            WHERE NEW.instance IS NOT NULL AND NEW.status IN ('completed', 'failed', 'canceled');
    END""",
    """CREATE TRIGGER executions_tally_delete AFTER DELETE ON executions
    WHEN OLD.instance IS NOT NULL AND OLD.status IN ('completed', 'failed', 'canceled')
    BEGIN
        INSERT INTO execution_tallies (instance, status, n) VALUES (OLD.instance, OLD.status, -1);
    END""",
]

_POSTGRESQL = [
    """CREATE FUNCTION relay_tally_execution() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' AND OLD.instance IS NOT NULL
                AND OLD.status IN ('completed', 'failed', 'canceled') THEN
            INSERT INTO execution_tallies (instance, status, n)
                VALUES (OLD.instance, OLD.status, -1);
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.instance IS NOT NULL
                AND NEW.status IN ('completed', 'failed', 'canceled') THEN
            INSERT INTO execution_tallies (instance, status, n)
                VALUES (NEW.instance, NEW.status, 1);
        END IF;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER executions_tally_insert_delete AFTER INSERT OR DELETE ON executions
    FOR EACH ROW EXECUTE FUNCTION relay_tally_execution()""",
    """CREATE TRIGGER executions_tally_update AFTER UPDATE OF status, instance ON executions
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.instance IS DISTINCT FROM NEW.instance)
    EXECUTE FUNCTION relay_tally_execution()""",
]


def upgrade() -> None:
    """Add ``execution_tallies``, filled from the executions there are, and its triggers."""
    op.create_table(
        "execution_tallies",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("instance", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_execution_tallies"),
    )
    op.execute(
        "INSERT INTO execution_tallies (instance, status, n)"
        " SELECT instance, status, count(*) FROM executions"
        " WHERE instance IS NOT NULL AND status IN ('completed', 'failed', 'canceled')"
        " GROUP BY instance, status"
    )
    statements = _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Drop the triggers and the table."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER executions_tally_insert_delete ON executions")
        op.execute("DROP TRIGGER executions_tally_update ON executions")
        op.execute("DROP FUNCTION relay_tally_execution()")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER executions_tally_{name}")
    op.drop_table("execution_tallies")

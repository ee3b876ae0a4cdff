"""The column of a replay's reused step outputs is named as the code names it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Rename ``executions.reuse_outputs`` to ``reused_outputs``, in place."""
    # RENAME COLUMN is native on PostgreSQL and on SQLite >= 3.25: no table copy
    op.execute("ALTER TABLE executions RENAME COLUMN reuse_outputs TO reused_outputs")


def downgrade() -> None:
    """Rename ``executions.reused_outputs`` back to ``reuse_outputs``."""
    op.execute("ALTER TABLE executions RENAME COLUMN reused_outputs TO reuse_outputs")

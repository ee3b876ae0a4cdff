"""Durable steps: a checkpoint per step, waiting executions, and cancel requests.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``execution_steps``, and ``executions.wake_at`` / ``cancel_requested``."""
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("wake_at", sa.Double(), nullable=True))
        batch.add_column(sa.Column("cancel_requested", sa.Integer(), nullable=True))
    op.create_index("ix_executions_status_wake_at", "executions", ["status", "wake_at"])
    op.create_table(
        "execution_steps",
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("claim", sa.Integer(), nullable=False),
        sa.Column("checkpoint", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "path", name="pk_execution_steps"),
    )


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    op.drop_table("execution_steps")
    op.drop_index("ix_executions_status_wake_at", table_name="executions")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("cancel_requested")
        batch.drop_column("wake_at")

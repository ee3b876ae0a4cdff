"""An index for one instance's executions of one status, newest first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

NAME = "ix_executions_instance_status_created_at_id"


def upgrade() -> None:
    """Index ``executions(instance, status, created_at, id)``: the listing's status filter and
    its keyset order (``created_at``, then ``id``) are one range scan of it, whatever the
    status's share of the history."""
    op.create_index(NAME, "executions", ["instance", "status", "created_at", "id"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index(NAME, table_name="executions")

"""Named connections stored by ``relay connect``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the ``connections`` table."""
    op.create_table(
        "connections",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("component", sa.String(200), nullable=False),
        sa.Column("connection", sa.String(200), nullable=False),
        sa.Column("fields", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_connections"),
    )


def downgrade() -> None:
    """Drop the ``connections`` table."""
    op.drop_table("connections")

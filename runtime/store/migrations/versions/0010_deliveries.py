"""Deliveries as an operator reads them: duplicates counted on the original, keys that expire,
and rejected deliveries counted (without their bodies).

``deliveries.dedupe_key`` may be empty (a delivery without an identity, or one whose key
outlived the dedupe window); ``times_seen`` and ``last_seen_at`` count the duplicates of a
delivery. ``delivery_rejections`` holds rejected deliveries per instance, reason and minute.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Count duplicates, let keys go, and add ``delivery_rejections``."""
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("dedupe_key", existing_type=sa.String(400), nullable=True)
        batch.add_column(sa.Column("times_seen", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("last_seen_at", sa.Double(), nullable=True))
        batch.create_index("ix_deliveries_instance_received_at", ["instance", "received_at"])
    op.create_table(
        "delivery_rejections",
        sa.Column("instance", sa.String(200), nullable=False),
        sa.Column("minute", sa.Double(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.Double(), nullable=False),
        sa.Column("last_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("instance", "minute", "reason", name="pk_delivery_rejections"),
    )


def downgrade() -> None:
    """Drop what ``upgrade`` added (deliveries without a key get one from their id)."""
    op.drop_table("delivery_rejections")
    op.execute("UPDATE deliveries SET dedupe_key = id WHERE dedupe_key IS NULL")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_instance_received_at")
        batch.drop_column("last_seen_at")
        batch.drop_column("times_seen")
        batch.alter_column("dedupe_key", existing_type=sa.String(400), nullable=False)

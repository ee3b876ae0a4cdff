"""The life of an instance: every flow version it was deployed with, and pausing.

Each deploy and redeploy keeps its flow text and config as a row of ``flow_versions``; an
instance that existed before has its current flow as version 1 there. ``instances.status`` is
``running`` or ``paused`` (a paused instance's deliveries are recorded and held).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``flow_versions`` (filled from the instances there are) and the pause columns."""
    with op.batch_alter_table("instances") as batch:
        batch.add_column(
            sa.Column("status", sa.String(20), nullable=False, server_default="running")
        )
        batch.add_column(sa.Column("paused_at", sa.Double(), nullable=True))
    op.create_table(
        "flow_versions",
        sa.Column("instance", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("flow_text", sa.Text(), nullable=False),
        sa.Column("config", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("instance", "version", name="pk_flow_versions"),
    )
    # the config is copied as its ciphertext: the same key decrypts it, and rotation finds it
    op.execute(
        "INSERT INTO flow_versions (instance, version, flow_text, config, created_at)"
        " SELECT name, flow_version, flow_text, config, created_at FROM instances"
    )


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    op.drop_table("flow_versions")
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("paused_at")
        batch.drop_column("status")

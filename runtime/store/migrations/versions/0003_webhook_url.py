"""The webhook URL an instance was registered with at deploy.

``relay serve`` compares it with where it serves now and names the instances whose senders
still post to another address.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``instances.webhook_url``."""
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("webhook_url", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop ``instances.webhook_url``."""
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("webhook_url")

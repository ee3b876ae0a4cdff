"""Signing out of the dashboard ends the token's sessions, not only the browser's cookie.

A dashboard session is a cookie sealed with the store's keys; deleting it on sign-out left a
copy of it valid until it expired. ``api_tokens.signed_out_at`` is when the token last signed
out: a session begun before then is over, in every process sharing the store.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``api_tokens.signed_out_at`` (no sign-out yet)."""
    op.add_column("api_tokens", sa.Column("signed_out_at", sa.Double(), nullable=True))


def downgrade() -> None:
    """Drop it (sessions end only as their cookies expire)."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("signed_out_at")

"""Initial schema: instances, tokens, locks, executions, deliveries, state, cursors.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the first schema: instances, tokens, locks, executions, deliveries, state, cursors."""
    op.create_table(
        "instances",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("flow_name", sa.String(200), nullable=False),
        sa.Column("flow_path", sa.Text(), nullable=False),
        sa.Column("flow_text", sa.Text(), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("config", sa.LargeBinary(), nullable=False),
        sa.Column("webhook_token", sa.String(200), nullable=False),
        sa.Column("deploy_state", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_instances"),
        sa.UniqueConstraint("webhook_token", name="uq_instances_webhook_token"),
    )
    op.create_table(
        "tokens",
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_tokens"),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.String(400), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_locks"),
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("instance", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("flow_text", sa.Text(), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=True),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("replay_of", sa.String(64), nullable=True),
        sa.Column("reuse_outputs", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("lease_until", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
    )
    op.create_index("ix_executions_created_at", "executions", ["created_at"])
    op.create_index("ix_executions_instance_created_at", "executions", ["instance", "created_at"])
    op.create_index("ix_executions_status_lease_until", "executions", ["status", "lease_until"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("instance", sa.String(200), nullable=False),
        sa.Column("dedupe_key", sa.String(400), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.Double(), nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("execution_id", name="uq_deliveries_execution_id"),
        sa.UniqueConstraint("instance", "dedupe_key", name="uq_deliveries_instance_dedupe_key"),
    )
    op.create_table(
        "state",
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_state"),
    )
    op.create_table(
        "cursors",
        sa.Column("instance", sa.String(200), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("instance", name="pk_cursors"),
    )


def downgrade() -> None:
    """Drop every table of the first schema."""
    for table in ("cursors", "state", "deliveries", "executions", "locks", "tokens", "instances"):
        op.drop_table(table)

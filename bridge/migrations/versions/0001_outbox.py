"""Outbox jobs and leader leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox_jobs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("run_after", sa.DateTime, nullable=False),
        sa.Column("lease_until", sa.DateTime, nullable=True),
        sa.Column("worker", sa.String(128), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=True),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("state IN ('pending', 'running', 'done', 'dead')", name="ck_outbox_jobs_state"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_jobs"),
        sa.UniqueConstraint("key", name="uq_outbox_jobs_key"),
    )
    op.create_index("ix_outbox_jobs_state_run_after", "outbox_jobs", ["state", "run_after"])
    op.create_table(
        "leader_leases",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leader_leases"),
    )


def downgrade() -> None:
    op.drop_table("leader_leases")
    op.drop_index("ix_outbox_jobs_state_run_after", table_name="outbox_jobs")
    op.drop_table("outbox_jobs")

"""Outbox: jobs that share a concurrency key run one at a time (two jobs of one post never race).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox_jobs", sa.Column("concurrency_key", sa.String(255), nullable=True))
    op.create_index("ix_outbox_jobs_concurrency_key_state", "outbox_jobs", ["concurrency_key", "state"])


def downgrade() -> None:
    op.drop_index("ix_outbox_jobs_concurrency_key_state", table_name="outbox_jobs")
    with op.batch_alter_table("outbox_jobs") as batch:
        batch.drop_column("concurrency_key")

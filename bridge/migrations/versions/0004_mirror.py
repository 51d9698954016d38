"""WordPress -> Discourse mirror: mirrored posts and reconcile/backfill checkpoints.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mirror_topics",
        sa.Column("site", sa.String(100), nullable=False),
        sa.Column("post_id", sa.BigInteger, nullable=False),
        sa.Column("external_id", sa.String(50), nullable=False),
        sa.Column("topic_id", sa.BigInteger, nullable=False),
        sa.Column("topic_url", sa.String(2000), nullable=False),
        sa.Column("title", sa.String(1000), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("listed", sa.Boolean, nullable=False),
        sa.Column("wp_modified", sa.DateTime, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("site", "post_id", name="pk_mirror_topics"),
        sa.UniqueConstraint("external_id", name="uq_mirror_topics_external_id"),
        sa.UniqueConstraint("topic_id", name="uq_mirror_topics_topic_id"),
    )
    op.create_table(
        "mirror_checkpoints",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_mirror_checkpoints"),
    )


def downgrade() -> None:
    op.drop_table("mirror_checkpoints")
    op.drop_table("mirror_topics")

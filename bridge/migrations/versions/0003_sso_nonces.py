"""DiscourseConnect provider: answered nonces (single use) and the forum side of each member.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sso_nonces",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("nonce_hash", sa.String(64), nullable=False),
        sa.Column("sub", sa.String(64), nullable=True),
        sa.Column("used_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "nonce_hash", name="pk_sso_nonces"),
    )
    op.create_index("ix_sso_nonces_expires_at", "sso_nonces", ["expires_at"])
    op.create_table(
        "sso_members",
        sa.Column("sub", sa.String(64), nullable=False),
        sa.Column("username", sa.String(60), nullable=False),
        sa.Column("username_lower", sa.String(60), nullable=False),
        sa.Column("discourse_fields_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("sub", name="pk_sso_members"),
        sa.UniqueConstraint("username_lower", name="uq_sso_members_username_lower"),
    )


def downgrade() -> None:
    op.drop_table("sso_members")
    op.drop_index("ix_sso_nonces_expires_at", table_name="sso_nonces")
    op.drop_table("sso_nonces")

"""Member accounts, one per Wikimedia central user id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("sub", sa.String(64), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("email_confirmed", sa.Boolean, nullable=False),
        sa.Column("realname", sa.String(255), nullable=True),
        sa.Column("groups", sa.JSON, nullable=False),
        sa.Column("editcount", sa.Integer, nullable=False),
        sa.Column("registered", sa.DateTime, nullable=True),
        sa.Column("blocked", sa.Boolean, nullable=False),
        sa.Column("platforms", sa.JSON, nullable=False),
        sa.Column("last_login_at", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("sub", name="pk_accounts"),
    )
    op.create_index("ix_accounts_username", "accounts", ["username"])


def downgrade() -> None:
    op.drop_index("ix_accounts_username", table_name="accounts")
    op.drop_table("accounts")

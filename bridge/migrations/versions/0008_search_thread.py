"""Search: each forum post's topic (`thread`), so a topic that turns private, unlisted or deleted
leaves the index with all its posts in one statement.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("search_documents") as batch:
        batch.add_column(sa.Column("thread", sa.String(100), nullable=True))
    op.create_index("ix_search_documents_source_site_thread", "search_documents", ["source", "site", "thread"])


def downgrade() -> None:
    op.drop_index("ix_search_documents_source_site_thread", table_name="search_documents")
    with op.batch_alter_table("search_documents") as batch:
        batch.drop_column("thread")

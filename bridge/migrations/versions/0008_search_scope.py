"""Search: each forum post's topic (`thread`) and each document's category id (`category_ref`), so
a topic or a category that turns private, unlisted or deleted leaves the index whole in one statement;
and where a `space-bridge search reindex` got to (`search_reindex`), so a stopped run goes on.

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
        batch.add_column(sa.Column("category_ref", sa.String(255), nullable=True))
    op.create_index("ix_search_documents_source_site_thread", "search_documents", ["source", "site", "thread"])
    op.create_index("ix_search_documents_source_site_category_ref", "search_documents",
                    ["source", "site", "category_ref"])
    if op.get_bind().dialect.name == "sqlite":
        # SQLite keeps a row's columns in order, the filter columns after the long `body`: a
        # filter or an order without words (tags:x order:latest) read the whole table. This
        # index holds what the filters, orders and paging read (sync/search/engines/base.py);
        # PostgreSQL needs none (its heap tuples are read through the TOASTed body), and a text
        # column such as `tags` could outgrow its btree entries there.
        op.execute("CREATE INDEX search_fts_documents_cover ON search_documents"
                   " (visible, created_at, id, views, source, language, author_key, category_key, tags)")
    op.create_table(
        "search_reindex",
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("position", sa.String(100), nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("scope", name="pk_search_reindex"),
    )


def downgrade() -> None:
    op.drop_table("search_reindex")
    op.execute("DROP INDEX IF EXISTS search_fts_documents_cover")
    op.drop_index("ix_search_documents_source_site_category_ref", table_name="search_documents")
    op.drop_index("ix_search_documents_source_site_thread", table_name="search_documents")
    with op.batch_alter_table("search_documents") as batch:
        batch.drop_column("category_ref")
        batch.drop_column("thread")

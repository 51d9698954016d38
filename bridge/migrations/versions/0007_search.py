"""Search (issue 15): the documents table and each database's full-text index beside it.

SQLite: two FTS5 tables keyed by the document's id (rowid). `search_fts` tokenizes words with
unicode61 (diacritics removed; marks Mn/Mc kept inside words so Indic and Thai vowel signs do not
split them), `search_fts_trigram` with the trigram tokenizer for scripts written without spaces,
where only a substring can be searched (https://www.sqlite.org/fts5.html#tokenizers; trigram
needs SQLite 3.34). Both hold the normalised title and body (sync/search/text.py).

PostgreSQL: `search_fts` holds one tsvector per document, made with the text-search
configuration of the document's language (title weight A, body B), with a GIN index
(https://www.postgresql.org/docs/15/textsearch-tables.html#TEXTSEARCH-TABLES-INDEX), and the
normalised text for substring search.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("site", sa.String(100), nullable=False),
        sa.Column("remote_id", sa.String(100), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author", sa.String(255), nullable=True),
        sa.Column("author_key", sa.String(255), nullable=True),
        sa.Column("language", sa.String(20), nullable=True),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("category", sa.String(255), nullable=True),
        sa.Column("category_key", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("views", sa.Integer, nullable=False),
        sa.Column("replies", sa.Integer, nullable=False),
        sa.Column("visible", sa.Boolean, nullable=False),
        sa.Column("indexed_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("source IN ('blog', 'forum')", name="ck_search_documents_source"),
        sa.PrimaryKeyConstraint("id", name="pk_search_documents"),
        sa.UniqueConstraint("source", "site", "remote_id", name="uq_search_documents_source_site_remote_id"),
    )
    op.create_index("ix_search_documents_created_at", "search_documents", ["created_at"])
    op.create_index("ix_search_documents_views", "search_documents", ["views"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(title, body, "
                   "tokenize = \"unicode61 remove_diacritics 2 categories 'L* N* Co Mn Mc'\")")
        op.execute("CREATE VIRTUAL TABLE search_fts_trigram USING fts5(title, body, tokenize = 'trigram')")
    else:
        op.execute("CREATE TABLE search_fts ("
                   " document_id BIGINT PRIMARY KEY REFERENCES search_documents (id) ON DELETE CASCADE,"
                   " config REGCONFIG NOT NULL,"
                   " tsv TSVECTOR NOT NULL,"
                   " title TEXT NOT NULL,"
                   " body TEXT NOT NULL)")
        op.execute("CREATE INDEX search_fts_tsv ON search_fts USING GIN (tsv)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS search_fts_trigram")
    op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_index("ix_search_documents_views", table_name="search_documents")
    op.drop_index("ix_search_documents_created_at", table_name="search_documents")
    op.drop_table("search_documents")

"""The search index's own table: one row per indexed blog post or forum topic/post.

It joins the bridge's one `MetaData` (bridge/store.py), so the schema check that compares the
migrations with the declared tables sees it. The full-text structures beside it are made by
migration 0007 with each database's own DDL and are not declared here: SQLite FTS5 virtual tables
(and the shadow tables FTS5 keeps, https://www.sqlite.org/fts5.html#fts5_table_creation_and_initialization)
and PostgreSQL's tsvector table, and SQLite's covering index of the filter columns (migration
0008). Their names all start with `search_fts`, which is how `is_fulltext_table` tells the
schema check to leave them alone.
"""

from __future__ import annotations

import sqlalchemy as sa

from bridge.store import BigId, metadata

FULLTEXT_PREFIX = "search_fts"

documents = sa.Table(
    "search_documents",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("site", sa.String(100), nullable=False),
    sa.Column("remote_id", sa.String(100), nullable=False),
    # a forum post's topic id (migration 0008): a topic leaves the index with all its posts
    sa.Column("thread", sa.String(100), nullable=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("author", sa.String(255), nullable=True),
    sa.Column("author_key", sa.String(255), nullable=True),
    sa.Column("language", sa.String(20), nullable=True),
    # "|tag-a|tag-b|" (keys, see sync/search/query.py `key`), so one LIKE finds a tag on both databases
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("category", sa.String(255), nullable=True),
    sa.Column("category_key", sa.String(255), nullable=True),
    # the category's id on its platform (a forum category id, a blog category slug), migration 0008:
    # a forum category that turns read-restricted takes its topics out in one statement
    sa.Column("category_ref", sa.String(255), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("views", sa.Integer, nullable=False),
    sa.Column("replies", sa.Integer, nullable=False),
    sa.Column("visible", sa.Boolean, nullable=False),
    sa.Column("indexed_at", sa.DateTime, nullable=False),
    sa.CheckConstraint("source IN ('blog', 'forum')", name="source"),
    sa.UniqueConstraint("source", "site", "remote_id"),
    sa.Index(None, "created_at"),
    sa.Index(None, "views"),
    sa.Index(None, "source", "site", "thread"),
    sa.Index(None, "source", "site", "category_ref"),
)


# A `space-bridge search reindex` under way, one row per source and site: where it got to, so a
# run stopped by Ctrl-C or a crash goes on from there (migration 0008).
reindex_runs = sa.Table(
    "search_reindex",
    metadata,
    sa.Column("scope", sa.String(200), primary_key=True),  # "blog:<site>" or "forum:forum"
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("position", sa.String(100), nullable=False),  # blog: a post's modified time; forum: a topic id
    sa.Column("done", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


def is_fulltext_table(name: str) -> bool:
    """Whether `name` is one of the full-text structures migration 0007 makes by hand."""
    return name.startswith(FULLTEXT_PREFIX)

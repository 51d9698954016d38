"""The search engines, one per database the bridge runs on, behind one interface (`BaseEngine`):
`index(document)`, `remove(source, site, remote_id)`, `search(query, page)`."""

from __future__ import annotations

import sqlalchemy as sa

from sync.search.engines.base import BaseEngine, Document, Page, Result
from sync.search.settings import SearchSettings

__all__ = ["BaseEngine", "Document", "Page", "Result", "for_database"]


def for_database(engine: sa.Engine, settings: SearchSettings | None = None) -> BaseEngine:
    """The search engine of the bridge's database: SQLite FTS5 or PostgreSQL full-text search."""
    if engine.dialect.name == "sqlite":
        from sync.search.engines.sqlite import SqliteEngine

        return SqliteEngine(engine, settings)
    from sync.search.engines.postgresql import PostgresqlEngine

    return PostgresqlEngine(engine, settings)

"""The schema comes only from migrations, and matches the tables the code declares."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bridge import store
from sync.notify import schema as notify_schema  # noqa: F401 - declares notify_preferences on it too
from sync.search import schema as search_schema  # declares search_documents on the shared metadata


def test_migrations_create_exactly_the_declared_schema(db_url):
    engine = store.make_engine(db_url)
    assert store.current_revision(engine) is None
    store.upgrade(engine)
    assert store.current_revision(engine) == store.head_revision(engine)
    with engine.connect() as conn:
        # the full-text structures migration 0007 makes with each database's own DDL are not declared
        skip_fulltext = {"include_name": lambda name, kind, _parent: kind not in ("table", "index")
                         or not search_schema.is_fulltext_table(name)}
        diff = compare_metadata(MigrationContext.configure(conn, opts=skip_fulltext), store.metadata)
    assert diff == []
    store.upgrade(engine)  # a second run is a no-op
    engine.dispose()


def test_downgrade_to_base_removes_tables(db_url):
    engine = store.make_engine(db_url)
    store.upgrade(engine)
    from alembic import command

    command.downgrade(store.alembic_config(engine), "base")
    assert not {"outbox_jobs", "leader_leases"} & set(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path):
    engine = store.make_engine(f"sqlite:///{tmp_path}/x.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()


def test_postgres_url_uses_psycopg3():
    assert store.normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert store.normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert store.normalise_url("sqlite:///x.db") == "sqlite:///x.db"

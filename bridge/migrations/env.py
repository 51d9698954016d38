"""Alembic environment: runs against the engine handed over by bridge.store.upgrade()."""

from alembic import context

from bridge.store import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables when needed.
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()

"""The bridge's database: SQLite by default (zero set-up), PostgreSQL for larger installations.

Tables are declared here with SQLAlchemy Core and created only by Alembic migrations
(`space-bridge db upgrade`), so a deployed database always matches a known revision.
Times are stored as naive UTC datetimes: SQLite has no time zones, and one convention on
both databases keeps comparisons in SQL simple.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only makes INTEGER PRIMARY KEY an auto-incrementing rowid; PostgreSQL gets BIGINT.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

JOB_STATES = ("pending", "running", "done", "dead")

outbox_jobs = sa.Table(
    "outbox_jobs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("key", sa.String(255), nullable=False, unique=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("run_after", sa.DateTime, nullable=False),
    sa.Column("lease_until", sa.DateTime, nullable=True),
    sa.Column("worker", sa.String(128), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=True),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    # Jobs with the same concurrency key run one at a time (e.g. every job of one blog post).
    sa.Column("concurrency_key", sa.String(255), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'running', 'done', 'dead')", name="state"),
    sa.Index(None, "state", "run_after"),
    sa.Index("ix_outbox_jobs_concurrency_key_state", "concurrency_key", "state"),
)

leader_leases = sa.Table(
    "leader_leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

# One row per member, keyed by the Wikimedia central user id (the OAuth profile's `sub`);
# written at each login from the profile (sso/accounts.py). `platforms` lists where the
# member has used the account ("discourse", "wordpress", ...).
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("sub", sa.String(64), primary_key=True),
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
    # copied into the session at login; log-out increments it, ending every session (sso/sessions.py)
    sa.Column("session_generation", sa.Integer, nullable=False, server_default="0"),
    sa.Index(None, "username"),
)


# DiscourseConnect provider (sso/provider.py). `sso_nonces`: every answered request, per consumer
# ("discourse", "wordpress:<site>"), by the SHA-256 of its nonce, refused again until expires_at.
sso_nonces = sa.Table(
    "sso_nonces",
    metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("nonce_hash", sa.String(64), primary_key=True),
    sa.Column("sub", sa.String(64), nullable=True),
    sa.Column("used_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Index(None, "expires_at"),
)

# The member's username on the forum and blogs (chosen once, then kept: sso/usernames.py) and
# the hash of the profile fields last sent to Discourse (a change queues sso.sync_discourse).
sso_members = sa.Table(
    "sso_members",
    metadata,
    sa.Column("sub", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(60), nullable=False),
    sa.Column("username_lower", sa.String(60), nullable=False, unique=True),
    sa.Column("discourse_fields_hash", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def normalise_url(url: str) -> str:
    """Let operators write postgresql:// (the usual form) while SQLAlchemy uses psycopg 3."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    return url


def make_engine(url: str, **kwargs) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    """Make SQLite safe for several worker processes.

    WAL lets readers run beside the one writer; synchronous=NORMAL in WAL mode keeps every
    committed transaction across a crash of the process (only an OS crash or power loss can
    lose the last commits), which is the durability the outbox promises. Transactions start
    with BEGIN IMMEDIATE, taking the write lock up front: a read-then-write transaction
    (claiming jobs) can then never fail with SQLITE_BUSY half-way, it waits its turn instead.
    A read-only caller may ask for `execution_options(sqlite_begin="DEFERRED")`.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def reader(engine: Engine) -> sa.Connection:
    """A connection for read-only work, which on SQLite does not take the write lock."""
    return engine.connect().execution_options(sqlite_begin="DEFERRED")


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (Alembic); safe to run on every deploy."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with reader(engine) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def create_empty_database(admin_url: str, name: str) -> str:
    """(Re)create PostgreSQL database `name` through `admin_url`; returns its URL.

    For tests, benchmarks and the local stack: anything in an existing database of that
    name is dropped.
    """
    admin = sa.create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


# WordPress -> Discourse mirror (sync/mirror.py). `mirror_topics`: one row per mirrored post,
# the topic and what was last sent (fingerprint), `wp_modified` the post's modified time after
# the bridge's own last write (so reconcile does not take it for an edit). `mirror_checkpoints`:
# per name ("reconcile:<site>", "backfill:<site>") the modified time up to which posts were seen.
mirror_topics = sa.Table(
    "mirror_topics",
    metadata,
    sa.Column("site", sa.String(100), primary_key=True),
    sa.Column("post_id", sa.BigInteger, primary_key=True),
    sa.Column("external_id", sa.String(50), nullable=False, unique=True),
    sa.Column("topic_id", sa.BigInteger, nullable=False, unique=True),
    sa.Column("topic_url", sa.String(2000), nullable=False),
    sa.Column("title", sa.String(1000), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("listed", sa.Boolean, nullable=False),
    sa.Column("wp_modified", sa.DateTime, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

mirror_checkpoints = sa.Table(
    "mirror_checkpoints",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("position", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


# -- checkpoints: how far a periodic look at a platform got (named per flow and site) ---------------
def get_checkpoint(engine: sa.Engine, name: str) -> dt.datetime | None:
    """The checkpoint `name` as timezone-aware UTC, or None when there is none yet."""
    with reader(engine) as conn:
        pos = conn.execute(sa.select(mirror_checkpoints.c.position).where(mirror_checkpoints.c.name == name)).scalar()
    return pos.replace(tzinfo=dt.timezone.utc) if pos else None


def set_checkpoint(engine: sa.Engine, name: str, position: dt.datetime) -> None:
    pos = position.astimezone(dt.timezone.utc).replace(tzinfo=None)
    with engine.begin() as conn:
        done = conn.execute(sa.update(mirror_checkpoints).where(mirror_checkpoints.c.name == name)
                            .values(position=pos, updated_at=utcnow())).rowcount
        if not done:
            conn.execute(sa.insert(mirror_checkpoints).values(name=name, position=pos, updated_at=utcnow()))


def clear_checkpoint(engine: sa.Engine, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(mirror_checkpoints).where(mirror_checkpoints.c.name == name))

"""The mirror's mapping table (`mirror_topics`): which forum topic is which blog post.

Storage apart from the job handlers, as Synapse keeps its storage layer apart from its
handlers: the mirror, the replies job, reconcile, backfill and the Discourse web hook all read
and write the table through these functions, so none of them needs another's handler class.

Reads take a connection (the caller chooses a reader or a transaction it is already in);
writes take the engine and are one short transaction each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.store import mirror_topics, utcnow

_c = mirror_topics.c


def naive(value: dt.datetime | None) -> dt.datetime | None:
    """UTC without a zone: how the table keeps times (SQLite keeps no zone)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def by_post(conn: sa.Connection, site: str, post_id: int) -> Mapping[str, Any] | None:
    """The row of a site's post, None when it has no topic."""
    return conn.execute(sa.select(mirror_topics).where(_c.site == site, _c.post_id == int(post_id))).mappings().first()


def concurrency_key(site: str, post_id: int) -> str:
    """The outbox concurrency key of every job that writes one post's topic or meta (mirror,
    replies): a publish followed at once by edits never has two jobs look the topic up (404)
    and both create it, and two reply syncs never write the post's meta at once."""
    return f"post:{site}:{int(post_id)}"[:255]


def by_topic(conn: sa.Connection, topic_id: int) -> Mapping[str, Any] | None:
    """The row of a forum topic, None when the topic is no mirrored post's."""
    return conn.execute(sa.select(mirror_topics).where(_c.topic_id == int(topic_id))).mappings().first()


def post_ids(conn: sa.Connection, site: str) -> set[int]:
    """Every post of the site that has a topic."""
    return {r.post_id for r in conn.execute(sa.select(_c.post_id).where(_c.site == site))}


def modified_times(conn: sa.Connection, site: str, ids: Iterable[int]) -> dict[int, dt.datetime | None]:
    """`wp_modified` (the post's modified time after the bridge's own last write) of those of
    `ids` that have a topic."""
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    rows = conn.execute(sa.select(_c.post_id, _c.wp_modified).where(_c.site == site, _c.post_id.in_(ids)))
    return {row.post_id: row.wp_modified for row in rows}


def put(engine: Engine, *, site: str, post_id: int, external_id: str, topic_id: int, topic_url: str, title: str,
        fingerprint: str, listed: bool, wp_modified: dt.datetime | None, note: str | None) -> Mapping[str, Any]:
    """Write the row of a post that just got (or was found to have) a topic; returns it.

    An existing row of the post is overwritten, keeping its `created_at`."""
    now = utcnow()
    values = dict(site=site, post_id=int(post_id), external_id=external_id, topic_id=topic_id, topic_url=topic_url,
                  title=title[:1000], fingerprint=fingerprint, listed=listed, wp_modified=naive(wp_modified),
                  note=note, created_at=now, updated_at=now)
    with engine.begin() as conn:
        if by_post(conn, site, post_id) is None:
            conn.execute(sa.insert(mirror_topics).values(**values))
        else:
            conn.execute(sa.update(mirror_topics).where(_c.site == site, _c.post_id == int(post_id))
                         .values(**{k: v for k, v in values.items() if k != "created_at"}))
        return by_post(conn, site, post_id)


def save(engine: Engine, site: str, post_id: int, **values: Any) -> None:
    """Change some columns of a post's row; a `wp_modified` of None leaves the stored one."""
    if "wp_modified" in values:
        values["wp_modified"] = naive(values["wp_modified"])
        if values["wp_modified"] is None:
            values.pop("wp_modified")
    with engine.begin() as conn:
        conn.execute(sa.update(mirror_topics).where(_c.site == site, _c.post_id == int(post_id))
                     .values(updated_at=utcnow(), **values))

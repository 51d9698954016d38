"""`space-bridge search reindex`: the whole index built again from the blogs and the forum.

For a first install (the periodic look only goes `search.initial_lookback_days` back), after
the index was lost, or after a change of `search.languages`. Resumable: where a run got to is
kept in `search_reindex` (one row per blog and one for the forum) every few documents and when
the run stops, so a run stopped by Ctrl-C or a platform that went away goes on from there when
started again (after a crash, from the last save: a few documents are indexed twice, which
changes nothing). When a scope is finished, what it did not see again (posts deleted while the bridge was
not listening) leaves the index, and its row is dropped.

- a blog is asked for every post (each status: those not public are taken out), oldest
  modification first; the position is the last `modified` done;
- the forum's topics are listed (GET /latest.json, every page), then indexed one at a time in
  id order; the position is the last topic id done. Each topic costs its read(s) under the
  forum's request budget (`discourse.requests_per_minute`): the command says how long that is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from bridge.store import reader, utcnow
from sync.search.documents import BLOG, FORUM, FORUM_SITE
from sync.search.feed import ALL_STATUSES, ForumFeed, index_post, search_index
from sync.search.schema import reindex_runs

SAVE_EVERY = 25  # documents between two saves of the position
EPOCH = dt.datetime(1970, 1, 2, tzinfo=dt.timezone.utc)


@dataclass
class Run:
    """One scope's run: where it starts (resumed or not) and what it did."""

    scope: str
    started_at: dt.datetime
    position: str
    done: int = 0
    resumed: bool = False
    indexed: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def begin(engine: sa.Engine, scope: str, restart: bool = False) -> Run:
    """The run of `scope` under way, or a new one from the start."""
    with engine.begin() as conn:
        if restart:
            conn.execute(reindex_runs.delete().where(reindex_runs.c.scope == scope))
        row = conn.execute(sa.select(reindex_runs).where(reindex_runs.c.scope == scope)).mappings().first()
        if row is not None:
            return Run(scope, row["started_at"], row["position"], row["done"], resumed=True)
        now = utcnow()
        conn.execute(reindex_runs.insert().values(scope=scope, started_at=now, position="", done=0, updated_at=now))
        return Run(scope, now, "")


def save(engine: sa.Engine, run: Run) -> None:
    with engine.begin() as conn:
        conn.execute(reindex_runs.update().where(reindex_runs.c.scope == run.scope)
                     .values(position=run.position, done=run.done, updated_at=utcnow()))


def finish(engine: sa.Engine, run: Run, source: str, site: str, settings) -> None:
    """Take out what the finished run did not see again, and forget the run."""
    run.removed += search_index(settings, engine).remove_where(source, site, indexed_before=run.started_at)
    with engine.begin() as conn:
        conn.execute(reindex_runs.delete().where(reindex_runs.c.scope == run.scope))


def under_way(engine: sa.Engine) -> list[dict]:
    with reader(engine) as conn:
        return [dict(r) for r in conn.execute(sa.select(reindex_runs).order_by(reindex_runs.c.scope)).mappings()]


# -- a blog ------------------------------------------------------------------------------------------
def blog_posts(client, run: Run) -> list:
    since = dt.datetime.fromisoformat(run.position) if run.position else EPOCH
    return client.posts_modified_since(since, statuses=ALL_STATUSES)


def reindex_blog(settings, engine: sa.Engine, site: str, run: Run, posts: Iterable,
                 on_done: Callable[[object], None] = lambda post: None) -> Run:
    try:
        for post in posts:
            outcome = index_post(settings, engine, site, post.id, post)
            run.indexed += outcome == "indexed"
            run.done += 1
            run.position = post.modified.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat()
            if run.done % SAVE_EVERY == 0:
                save(engine, run)
            on_done(post)
    finally:
        save(engine, run)  # stopped by an error or Ctrl-C: the next run goes on from here
    finish(engine, run, BLOG, site, settings)
    return run


# -- the forum ---------------------------------------------------------------------------------------
def forum_topic_ids(feed: ForumFeed, run: Run) -> list[int]:
    """Every listed topic's id after the run's position, in id order."""
    after = int(run.position) if run.position.isdigit() else 0
    return sorted({t["id"] for t in feed.iter_topics() if t["id"] > after})


def reindex_forum(settings, engine: sa.Engine, feed: ForumFeed, run: Run, topic_ids: Iterable[int],
                  on_done: Callable[[int], None] = lambda topic_id: None) -> Run:
    try:
        for topic_id in topic_ids:
            indexed, removed = feed.index_topic(topic_id)
            run.indexed += indexed
            run.removed += removed
            run.done += 1
            run.position = str(topic_id)
            if run.done % SAVE_EVERY == 0:
                save(engine, run)
            on_done(topic_id)
    finally:
        save(engine, run)
    finish(engine, run, FORUM, FORUM_SITE, settings)
    return run

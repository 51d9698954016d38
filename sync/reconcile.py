"""The periodic reconcile: a lost web hook or a bridge outage only delays a topic.

Every `mirror.reconcile_interval_seconds` (one worker at a time: the scheduler's leader),
each site is asked for the posts modified since its checkpoint (kept in `mirror_checkpoints`
as ``reconcile:<site>``) minus `mirror.reconcile_overlap_seconds`, in every status, and the
same `mirror.post` jobs the web hook would have queued are queued (idempotent keys: a post
version already queued by its web hook is not queued again). Posts whose `modified` is the
one the bridge's own last write gave them are skipped, as are posts without a topic that are
not in a mirrored status. The checkpoint then moves to the newest `modified` seen.
"""

from __future__ import annotations

import datetime as dt

import structlog
from sqlalchemy.engine import Engine

from bridge.clients.wordpress import WordPressClient, WordPressError
from bridge.config import Settings, WordPressSite
from bridge.store import get_checkpoint, reader, set_checkpoint
from sync import mapping
from sync.mirror import ALL_STATUSES, enqueue_post

log = structlog.get_logger(__name__)


def modified_key(value: dt.datetime) -> str:
    """The post's modified time as the mu-plugin sends it (post_modified_gmt)."""
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def reconcile_site(settings: Settings, engine: Engine, site: WordPressSite, client: WordPressClient,
                   now: dt.datetime | None = None) -> int:
    """Queue jobs for the site's posts modified since its checkpoint; returns how many were queued."""
    m = settings.mirror
    name = f"reconcile:{site.name}"
    now = now or dt.datetime.now(dt.timezone.utc)
    checkpoint = get_checkpoint(engine, name) or (now - dt.timedelta(days=m.initial_lookback_days))
    since = checkpoint - dt.timedelta(seconds=m.reconcile_overlap_seconds)
    posts = client.posts_modified_since(since, statuses=ALL_STATUSES)
    ids = [p.id for p in posts]
    known = {}
    if ids:
        with reader(engine) as conn:
            known = mapping.modified_times(conn, site.name, ids)
    queued = 0
    with engine.begin() as conn:
        for post in posts:
            if post.id in known:
                seen = known[post.id]
                if seen is not None and post.modified.replace(tzinfo=None) <= seen:
                    continue
            elif post.status not in site.statuses:
                continue
            _, created = enqueue_post(conn, site.name, post.id, modified_key(post.modified), post.status,
                                      source="reconcile")
            queued += created
    if posts:
        set_checkpoint(engine, name, max(checkpoint, max(p.modified for p in posts)))
    log.info("mirror.reconcile", site=site.name, since=since.isoformat(), posts=len(posts), queued=queued)
    return queued


def reconcile_all(settings: Settings, engine: Engine, clients=None) -> int:
    """Reconcile every site; a site that cannot be reached is logged and retried next time."""
    from bridge import platforms

    total = 0
    for site in settings.wordpress.sites:
        try:
            if clients:
                total += reconcile_site(settings, engine, site, clients(site.name))
            else:
                with platforms.wordpress(settings, site.name) as client:
                    total += reconcile_site(settings, engine, site, client)
        except WordPressError as exc:
            log.warning("mirror.reconcile_failed", site=site.name, error=str(exc))
    return total

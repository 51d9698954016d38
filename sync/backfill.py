"""`space-bridge backfill --site NAME [--since DATE] [--dry-run]`: mirror a site's existing posts.

Lists the site's posts in its mirrored `statuses` (modified since DATE, default: all), oldest
first, and mirrors every one that has no topic yet, exactly as the `mirror.post` job does (same
no-duplicate checks: the mapping table, then the forum refusing a second external_id). Resumable: a post that
already has a topic is skipped without asking the forum, so an interrupted backfill is simply
run again. Several threads share the process's Discourse pacer, so the forum's request budget
(discourse.requests_per_minute) is used fully while WordPress is read and written in between;
the ETA is computed from that budget (the forum is the bottleneck by design).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import structlog
from sqlalchemy.engine import Engine

from bridge.clients.discourse import DiscourseError
from bridge.clients.wordpress import Post, WordPressError
from bridge.config import Settings
from bridge.store import reader
from sync import mapping, render
from sync.mirror import Mirror

log = structlog.get_logger(__name__)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def requests_per_topic(read_back: bool) -> int:
    """Discourse requests one new topic costs: its create (tags, category and external id ride
    along), and the read-back where the forum leaves embedded topics unlisted (sync/mirror.py)."""
    return 2 if read_back else 1


@dataclass
class Report:
    listed: int = 0
    already: int = 0
    todo: list[Post] = field(default_factory=list)
    created: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    read_back: bool = False  # each create followed by a read-back (the forum's embed_unlisted)

    def eta_seconds(self, settings: Settings, remaining: list[Post]) -> float:
        rpm = settings.discourse.requests_per_minute if settings.discourse else 60
        return len(remaining) * requests_per_topic(self.read_back) * 60.0 / rpm


def plan(settings: Settings, engine: Engine, site_name: str, since: dt.datetime | None, mirror: Mirror) -> Report:
    site = settings.site(site_name)
    posts = mirror.wordpress(site.name).posts_modified_since(since or EPOCH, statuses=tuple(site.statuses))
    with reader(engine) as conn:
        done = mapping.post_ids(conn, site.name)
    report = Report(listed=len(posts))
    for p in posts:
        if p.id in done:
            report.already += 1
        else:
            report.todo.append(p)
    if report.todo:  # the forum's setting is asked only when there is something to create
        report.read_back = settings.mirror.relist_embedded and mirror.forum_unlists_embedded()
    return report


def run(settings: Settings, engine: Engine, site_name: str, report: Report, mirror: Mirror, *, threads: int = 4,
        on_done=None) -> Report:
    """Mirror `report.todo`; `on_done(post)` is called after each post (progress)."""
    site = settings.site(site_name)
    lock = threading.Lock()
    started = time.monotonic()

    def one(post: Post) -> None:
        try:
            outcome = mirror.sync_post(site, post.id, post)
            with lock:
                report.created += outcome.action in ("created", "recovered")
        except (DiscourseError, WordPressError) as exc:
            with lock:
                report.failed.append((post.id, str(exc)))
            log.warning("mirror.backfill_failed", site=site.name, post_id=post.id, error=str(exc))
        finally:
            if on_done:
                with lock:
                    on_done(post)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="backfill") as pool:
        list(pool.map(one, report.todo))
    report.seconds = time.monotonic() - started
    return report


def describe(post: Post, settings: Settings, site_name: str) -> str:
    r = render.render(post, settings.site(site_name), settings.mirror)
    return f"post {post.id} -> '{r.title}' in {r.category or '(forum default)'}" + (
        f" tags {','.join(r.tags)}" if r.tags else "")

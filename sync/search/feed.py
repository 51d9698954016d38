"""Keeping the index in step with the blogs and the forum (I/O at the edges of documents.py).

The index is fed by what the bridge already sees, never by a second receiver:

- **blog posts**: each post the mirror reads (event ``blog.post_read``, bridge/events.py) is
  indexed or taken out there and then, in the mirror's job. Where no forum is configured no
  mirror job reads the post, so the blog's web hook (``blog.post_changed``) queues `search.blog`,
  which reads it. The periodic reconcile asks each blog for the posts modified since its
  checkpoint (a lost web hook, a bridge that was down) and indexes them from the listing itself.
- **the forum**: each signed web hook delivery (``forum.webhook``) about a post, a topic or a
  category queues a `search.forum` job (one per delivery content, one at a time per topic), which
  reads the topic as the forum shows it now: a delivery is a hint, and an unlisting, a move to
  a restricted category or a deletion is judged on the forum's present state. The periodic
  reconcile lists the topics most recently active and queues the same jobs for those bumped
  since its checkpoint.

A document leaves the index in the job that finds it private or gone: a trashed or
password-protected post, an unlisted topic, a topic moved to a read-restricted category, a
deleted or hidden post, a category made read-restricted (all its topics at once).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
import structlog

from bridge.clients.discourse import DiscourseError
from bridge.clients.errors import outbox_failure
from bridge.clients.wordpress import Post, PostNotFound, WordPressError
from bridge.outbox import Job, enqueue
from bridge.store import get_checkpoint, reader, set_checkpoint
from sync import mapping
from sync.webhooks import iso_time, json_id
# Every status a blog is asked for, as the mirror's reconcile asks: a post that left "publish"
# must leave the index too.
from sync.mirror import ALL_STATUSES
from sync.search.documents import BLOG, FORUM, FORUM_SITE, blog_document, forum_documents
from sync.search.engines import BaseEngine, for_database
from sync.search.schema import documents

log = structlog.get_logger(__name__)

KIND_BLOG = "search.blog"
KIND_FORUM = "search.forum"
KIND_CATEGORY = "search.category"

POST_EVENTS = {"post_created", "post_edited", "post_destroyed", "post_recovered"}
# Every topic_* event (created, edited, destroyed, recovered, and the status ones: Discourse's
# lib/web_hook.rb enqueues "topic_#{status}_status_updated" for visible, closed, archived...) and
# every category_* event queue the same job: what changed is read from the forum.


def search_index(settings, engine: sa.Engine) -> BaseEngine:
    return for_database(engine, settings.search)


def site_language(settings, site: str) -> str | None:
    return settings.search.site_languages.get(site)


# -- blog ------------------------------------------------------------------------------------------
def index_post(settings, engine: sa.Engine, site: str, post_id: int, post: Post | None) -> str:
    """Index the post or take it out; returns "indexed" or "removed"."""
    index = search_index(settings, engine)
    doc = blog_document(site, post, site_language(settings, site)) if post is not None else None
    if doc is None:
        index.remove(BLOG, site, str(int(post_id)))
        return "removed"
    index.index(doc)
    return "indexed"


def on_post_read(settings, engine: sa.Engine, *, site: str, post_id: int, post: Post | None) -> None:
    outcome = index_post(settings, engine, site, post_id, post)
    log.info("search.blog", site=site, post_id=post_id, outcome=outcome, source="mirror")


def on_post_changed(settings, engine: sa.Engine, *, site: str, post_id: int, status: str, modified: str,
                    mirrored: bool) -> None:
    if mirrored:
        return  # the mirror's job reads the post and publishes blog.post_read
    with engine.begin() as conn:
        enqueue(conn, KIND_BLOG, {"site": site, "post_id": int(post_id)},
                key=f"search:blog:{site}:{int(post_id)}:{modified}:{status}"[:255],
                concurrency_key=f"search:blog:{site}:{int(post_id)}")


def handle_blog(settings, engine: sa.Engine) -> Callable[[Job], None]:
    from bridge import platforms

    def handle(job: Job) -> None:
        site, post_id = str(job.payload["site"]), int(job.payload["post_id"])
        settings.site(site)  # a site no longer configured fails here, naming it
        try:
            with platforms.wordpress(settings, site) as client:
                try:
                    post = client.get_post(post_id)
                except PostNotFound:
                    post = None
        except WordPressError as exc:
            raise outbox_failure(exc) from None
        outcome = index_post(settings, engine, site, post_id, post)
        log.info("search.blog", site=site, post_id=post_id, outcome=outcome, source="job")

    return handle


def reconcile_blog(settings, engine: sa.Engine, site: str, client, now: dt.datetime | None = None) -> int:
    """Index what the blog changed since the checkpoint, from the listing itself; returns how
    many posts were looked at."""
    s = settings.search
    name = f"search:blog:{site}"
    now = now or dt.datetime.now(dt.timezone.utc)
    checkpoint = get_checkpoint(engine, name) or (now - dt.timedelta(days=s.initial_lookback_days))
    posts = client.posts_modified_since(checkpoint - dt.timedelta(seconds=s.reconcile_overlap_seconds),
                                        statuses=ALL_STATUSES)
    for post in posts:
        index_post(settings, engine, site, post.id, post)
    if posts:
        set_checkpoint(engine, name, max(checkpoint, max(p.modified for p in posts)))
    return len(posts)


def refresh_views(settings, engine: sa.Engine, site: str, client) -> int:
    """Copy the blog's view counts (the mu-plugin's privacy-preserving daily counter, summed over
    the days it keeps) onto its indexed posts; returns how many changed."""
    views = client.post_views()
    return search_index(settings, engine).set_views(BLOG, site, {str(k): v for k, v in views.items()})


# -- forum -----------------------------------------------------------------------------------------
def forum_job_key(topic_id: int, event: str, data: Any) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return f"search:forum:{topic_id}:{event}:{digest}"


def enqueue_topic(conn: sa.Connection, topic_id: int, event: str, key: str, post_id: int | None = None):
    payload: dict[str, Any] = {"topic_id": int(topic_id), "event": event}
    if post_id is not None and event in POST_EVENTS:
        payload["post_id"] = int(post_id)
    return enqueue(conn, KIND_FORUM, payload, key=key[:255], concurrency_key=f"search:forum:{int(topic_id)}")


def on_forum_webhook(settings, engine: sa.Engine, *, event: str, data: dict) -> None:
    """Queue the job the delivery calls for; a delivery that names nothing indexable is ignored."""
    if event in POST_EVENTS:
        post = data.get("post") if isinstance(data.get("post"), dict) else {}
        topic_id, post_id = json_id(post.get("topic_id")), json_id(post.get("id"))
    elif event.startswith("topic_"):
        topic = data.get("topic") if isinstance(data.get("topic"), dict) else {}
        topic_id, post_id = json_id(topic.get("id")), None
    elif event.startswith("category_"):
        category = data.get("category") if isinstance(data.get("category"), dict) else {}
        category_id = json_id(category.get("id"))
        if category_id is not None:
            with engine.begin() as conn:
                enqueue(conn, KIND_CATEGORY, {"category_id": category_id, "event": event},
                        key=forum_job_key(category_id, event, data).replace("search:forum:", "search:category:", 1),
                        concurrency_key=f"search:category:{category_id}")
        return
    else:
        return
    if topic_id is None:
        return
    if _mirror_noise(engine, topic_id, event, data):
        return
    with engine.begin() as conn:
        enqueue_topic(conn, topic_id, event, forum_job_key(topic_id, event, data), post_id)


def _mirror_noise(engine: sa.Engine, topic_id: int, event: str, data: dict) -> bool:
    """Whether the delivery is about a topic the mirror made and nothing of it is the index's:
    its first post is the blog post (indexed as the blog's), and while no reply of it is indexed
    a topic event changes nothing here. Skipping these keeps the mirror's own creates and edits
    from costing the forum a second read each (they share one request budget)."""
    with reader(engine) as conn:
        if mapping.by_topic(conn, topic_id) is None:
            return False
        if event in POST_EVENTS:
            post = data.get("post") if isinstance(data.get("post"), dict) else {}
            return post.get("post_number") == 1
        return conn.execute(sa.select(documents.c.id).where(
            documents.c.source == FORUM, documents.c.site == FORUM_SITE,
            documents.c.thread == str(topic_id)).limit(1)).first() is None


class ForumFeed:
    """The forum's side of the index, with one forum client per worker process (thread-safe)."""

    def __init__(self, settings, engine: sa.Engine, client=None):
        self.settings, self.engine = settings, engine
        self.index = search_index(settings, engine)
        self._client = client
        self._lock = threading.Lock()

    @property
    def forum(self):
        with self._lock:
            if self._client is None:
                from bridge import platforms

                self._client = platforms.discourse(self.settings, max_wait=self.settings.mirror.job_max_wait_seconds)
            return self._client

    def categories(self, need: Any = None, fresh: bool = False):
        from sync.relay.forum import category_map

        cmap = category_map(self.settings)
        if fresh:
            cmap.invalidate()
        return cmap.index(need=need)

    # -- one topic ---------------------------------------------------------------------------
    def index_topic(self, topic_id: int, post_id: int | None = None) -> tuple[int, int]:
        """Bring the index in step with the topic as the forum shows it now: (indexed, removed).
        With `post_id` (a post's event) only that post and the first post (its topic's reply
        count) are written; a topic event rewrites every post (title, category, tags are theirs).

        The first post of a topic the mirror made is the blog post itself, which the index holds
        as the blog's: only the replies of such a topic are indexed as the forum's."""
        thread = str(int(topic_id))
        data = self.forum.topic_data(topic_id)
        if data is None:
            return 0, self.index.remove_where(FORUM, FORUM_SITE, thread=thread)
        stream = data.get("post_stream") or {}
        loaded = {p["id"]: p for p in stream.get("posts") or [] if isinstance(p, dict) and isinstance(p.get("id"), int)}
        if post_id is not None:
            wanted = [p for p in loaded.values() if p.get("post_number") == 1]
            if post_id in loaded:
                wanted.append(loaded[post_id])
            else:
                wanted += [p for p in self.forum.topic_posts(topic_id, [post_id]) if p.get("id") == post_id]
        else:
            ids = [i for i in stream.get("stream") or loaded if isinstance(i, int)]
            missing = [i for i in ids if i not in loaded]
            wanted = [loaded[i] for i in ids if i in loaded] + (self.forum.topic_posts(topic_id, missing) if missing else [])
        with reader(self.engine) as conn:
            mirrored = mapping.by_topic(conn, topic_id) is not None
        skipped = {p["id"] for p in wanted if mirrored and p.get("post_number") == 1}
        reason, docs = forum_documents(data, [p for p in wanted if p["id"] not in skipped],
                                       self.categories(need=data.get("category_id")), self.forum.url,
                                       site_language(self.settings, FORUM_SITE))
        for doc in docs:
            self.index.index(doc)
        kept = {d.remote_id for d in docs}
        if reason is not None or post_id is None:
            return len(docs), self.index.remove_where(FORUM, FORUM_SITE, thread=thread, keep=kept)
        gone = {str(post_id)} | {str(i) for i in skipped}
        return len(docs), sum(self.index.remove(FORUM, FORUM_SITE, i) for i in gone - kept)

    def handle_topic(self, job: Job) -> None:
        topic_id = int(job.payload["topic_id"])
        post_id = job.payload.get("post_id")
        try:
            indexed, removed = self.index_topic(topic_id, int(post_id) if post_id is not None else None)
        except DiscourseError as exc:
            raise outbox_failure(exc) from None
        log.info("search.forum", topic_id=topic_id, post_id=post_id, indexed=indexed, removed=removed)

    # -- a category ----------------------------------------------------------------------------
    def handle_category(self, job: Job) -> None:
        """A category changed: if it (or a parent) is now private, its topics leave at once;
        else its topics are listed and each queued, so a category opened to all is indexed."""
        category_id = int(job.payload["category_id"])
        try:
            categories = self.categories(need=category_id, fresh=True)
            if categories.reason(category_id) is not None:
                removed = self.index.remove_where(FORUM, FORUM_SITE, category_ref=str(category_id))
                log.info("search.category", category_id=category_id, removed=removed)
                return
            queued = 0
            with self.engine.begin() as conn:
                for topic in self.iter_topics():
                    if topic.get("category_id") == category_id:
                        queued += enqueue_topic(conn, topic["id"], "category",
                                                f"search:forum:{topic['id']}:category:{job.id}")[1]
        except DiscourseError as exc:
            raise outbox_failure(exc) from None
        log.info("search.category", category_id=category_id, queued=queued)

    def iter_topics(self, start_page: int = 0) -> Iterator[dict]:
        page = start_page
        while True:
            topics, more = self.forum.latest_topics(page)
            yield from topics
            if not more or not topics:
                return
            page += 1

    # -- the periodic look ---------------------------------------------------------------------
    def reconcile(self, now: dt.datetime | None = None) -> int:
        """Queue a job for each topic bumped since the checkpoint (most recently active first,
        so the listing stops at the first page older than it; pinned topics head every list and
        are skipped over by date). Returns how many were queued."""
        name = "search:forum"
        now = now or dt.datetime.now(dt.timezone.utc)
        checkpoint = get_checkpoint(self.engine, name) or (now - dt.timedelta(days=self.settings.search.initial_lookback_days))
        since = checkpoint - dt.timedelta(seconds=self.settings.search.reconcile_overlap_seconds)
        newest, queued, page = checkpoint, 0, 0
        while True:
            topics, more = self.forum.latest_topics(page)
            recent = []
            for topic in topics:
                bumped = iso_time(topic.get("bumped_at")) or iso_time(topic.get("created_at"))
                if bumped is not None and bumped >= since:
                    recent.append((topic, bumped))
            with self.engine.begin() as conn:
                for topic, bumped in recent:
                    queued += enqueue_topic(conn, topic["id"], "reconcile",
                                            f"search:forum:{topic['id']}:reconcile:{bumped.isoformat()}")[1]
                    newest = max(newest, bumped)
            if not more or not recent:
                break
            page += 1
        set_checkpoint(self.engine, name, newest)
        return queued


# -- the shell's hooks -----------------------------------------------------------------------------
def handlers(settings, engine: sa.Engine) -> dict[str, Callable[[Job], None]]:
    kinds: dict[str, Callable[[Job], None]] = {KIND_BLOG: handle_blog(settings, engine)}
    if settings.discourse is not None:
        feed = ForumFeed(settings, engine)
        kinds.update({KIND_FORUM: feed.handle_topic, KIND_CATEGORY: feed.handle_category})
    return kinds


def _each_blog(settings, what: str, action: Callable[[str, object], int]) -> None:
    """`action(site name, client)` on every blog; a blog that cannot be reached (or lacks what is
    asked of it) is logged and looked at again next time."""
    from bridge import platforms

    for site in settings.wordpress.sites:
        try:
            with platforms.wordpress(settings, site.name) as client:
                count = action(site.name, client)
            log.info(f"search.{what}", site=site.name, count=count)
        except WordPressError as exc:
            log.warning(f"search.{what}_failed", site=site.name, error=str(exc))


def refresh_all_views(settings, engine: sa.Engine) -> None:
    """The blogs' view counts, every `search.views_interval_seconds` (the forum's come with each
    topic read)."""
    _each_blog(settings, "views", lambda site, client: refresh_views(settings, engine, site, client))


def reconcile_all(settings, engine: sa.Engine) -> None:
    """The periodic look at every blog and the forum; a platform that cannot be reached is
    logged and looked at again next time."""
    _each_blog(settings, "reconcile", lambda site, client: reconcile_blog(settings, engine, site, client))
    if settings.discourse is not None:
        try:
            queued = ForumFeed(settings, engine).reconcile()
            log.info("search.reconcile", site=FORUM_SITE, queued=queued)
        except DiscourseError as exc:
            log.warning("search.reconcile_failed", site=FORUM_SITE, error=str(exc))

"""From what the bridge hears to one delivery job per member: the `notify.plan` job.

The subscribers (events other flows publish, bridge/events.py) only queue a plan job, keyed by
the happening, so a web hook delivered twice or a post read again plans once, and only when some
member chose that kind of event (one indexed look-up), so a Space where nobody did queues nothing:

- ``blog.post_read``: the mirror read a post; a new public one is a happening at once, built
  from the post as read (no second read of the blog);
- ``blog.post_changed`` of a blog without the mirror: the job reads the post;
- ``forum.webhook`` ``topic_created`` (a topic the mirror did not make: a mirrored topic's
  happening is its blog post) and ``post_created`` of a reply: the job reads the topic from the
  forum (GET /t/{id}.json, the post from its stream or GET /posts/{id}.json), because only the
  present state says whether it is still public, and who it answers.

The job maps the forum usernames a reply concerns to members by external id: the names the
bridge's DiscourseConnect logins stored (sso_members) are candidates, and the forum is asked
which member holds each external id now (GET /u/by-external/{id}.json); a name that moved to
someone else since is nobody. The topic of a mirrored blog post stands for the post's author,
the blog's own account link (Author.external_id), whoever the forum shows as its owner. Then
`plan` (pure) decides, and one `notify.deliver` job per member is queued in one transaction,
keyed per member and happening, one member's jobs one at a time (the cap counts them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
import structlog

from bridge.outbox import Job, Outbox, enqueue, enqueue_many
from bridge.store import reader, sso_members, utcnow
from sync.notify import answers, happenings, preferences
from sync.notify.plan import NEW_POSTS, RANK, Delivery, Happening, plan
from sync.webhooks import json_id
from sync.notify.schema import EVENTS, event_column
from sync.notify.schema import preferences as prefs_table

log = structlog.get_logger(__name__)

PLAN = "notify.plan"
DELIVER = "notify.deliver"
#: a new forum topic is planned this long after its web hook: the mirror records the topics it
#: makes right after making them, and a mirrored topic's happening is its blog post
TOPIC_DELAY = dt.timedelta(seconds=60)
MAX_NAMES = 60


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _queue(engine: sa.Engine, key: str, payload: dict, run_after: dt.datetime | None = None) -> None:
    with engine.begin() as conn:
        enqueue(conn, PLAN, payload, key=key[:255], run_after=run_after)


# -- subscribers ---------------------------------------------------------------------------------------
def on_post_read(settings, engine: sa.Engine, *, site: str, post_id: int, post) -> None:
    from sync.search.feed import site_language

    h = happenings.from_blog_post(site, post, language=site_language(settings, site), now=_now())
    if h is not None and anyone_wants(engine, (NEW_POSTS,)):
        _queue(engine, f"notify-plan:{h.id}", {"happening": happenings.to_dict(h)})


def on_post_changed(settings, engine: sa.Engine, *, site: str, post_id: int, status: str, modified: str,
                    mirrored: bool) -> None:
    if mirrored or status != "publish" or not anyone_wants(engine, (NEW_POSTS,)):
        return  # the mirror's job reads the post and publishes blog.post_read; or nobody listens
    _queue(engine, f"notify-plan:{happenings.blog_id(site, post_id)}", {"blog": site, "post_id": int(post_id)})


def on_forum_webhook(settings, engine: sa.Engine, *, event: str, data: dict) -> None:
    if event == "post_created":
        post = data.get("post") if isinstance(data.get("post"), dict) else {}
        post_id, topic_id = json_id(post.get("id")), json_id(post.get("topic_id"))
        number = post.get("post_number")
        if post_id is None or topic_id is None or not isinstance(number, int) or number < 2 \
                or post.get("topic_archetype") == "private_message" or not anyone_wants(engine, RANK):
            return
        _queue(engine, f"notify-plan:discourse:post:{post_id}", {"forum_post": post_id, "topic_id": topic_id})
    elif event == "topic_created":
        topic = data.get("topic") if isinstance(data.get("topic"), dict) else {}
        topic_id = json_id(topic.get("id"))
        if topic_id is None or topic.get("archetype") == "private_message" or not anyone_wants(engine, (NEW_POSTS,)):
            return
        _queue(engine, f"notify-plan:discourse:topic:{topic_id}", {"forum_topic": topic_id},
               run_after=utcnow() + TOPIC_DELAY)


# -- members ------------------------------------------------------------------------------------------
def members_by_name(engine: sa.Engine, names: Iterable[str | None], lookup: Callable[[str], Any]) -> dict[str, str]:
    """forum username (lower case) -> sub, for the names that are members with a channel chosen,
    each confirmed by the forum: `lookup(sub)` is the forum user holding that external id now."""
    lowered = sorted({n.lower() for n in names if isinstance(n, str) and n})[:MAX_NAMES]
    if not lowered:
        return {}
    query = (sa.select(sso_members.c.sub, sso_members.c.username_lower)
             .join(prefs_table, prefs_table.c.sub == sso_members.c.sub)
             .where(sso_members.c.username_lower.in_(lowered), prefs_table.c.channel != "none"))
    with reader(engine) as conn:
        candidates = list(conn.execute(query))
    found: dict[str, str] = {}
    for sub, lower in candidates:
        user = lookup(sub)
        name = getattr(user, "username", None)
        if isinstance(name, str) and name.lower() == lower:
            found[lower] = sub
        else:
            log.info("notify.member_name_moved", sub=sub, stored=lower, forum=name)
    return found


def anyone_wants(engine: sa.Engine, events: Iterable[str]) -> bool:
    cols = [prefs_table.c[event_column(e)] for e in events]
    with reader(engine) as conn:
        return conn.execute(sa.select(prefs_table.c.sub).where(
            sa.or_(*(c.is_(True) for c in cols)), prefs_table.c.channel != "none").limit(1)).first() is not None


# -- the plan job -------------------------------------------------------------------------------------
def enqueue_deliveries(engine: sa.Engine, h: Happening, deliveries: list[Delivery]) -> int:
    """Queue one `notify.deliver` job per delivery (keyed per member and happening); returns how
    many were new. All in one transaction: a plan is queued whole or not at all (bench/notify.py:
    10,000 deliveries, a few multi-row statements)."""
    payload_h = happenings.to_dict(h)
    with engine.begin() as conn:
        return enqueue_many(conn, DELIVER, (({"sub": d.sub, "reason": d.reason, "happening": payload_h}, d.key,
                                             f"notify:{d.sub}"[:255]) for d in deliveries))


class Planner:
    """The `notify.plan` handler, with one forum client per worker process."""

    def __init__(self, settings, engine: sa.Engine, forum=None, blog: Callable[[str, int], Any] | None = None):
        self.settings, self.engine = settings, engine
        self._forum = forum
        self._blog = blog
        self._lock = threading.Lock()

    def forum(self):
        with self._lock:
            if self._forum is None:
                from bridge import platforms

                self._forum = platforms.discourse(self.settings)
            return self._forum

    def read_blog_post(self, site: str, post_id: int):
        if self._blog is not None:
            return self._blog(site, post_id)
        from bridge import platforms
        from bridge.clients.errors import PlatformError, outbox_failure
        from bridge.clients.wordpress import PostNotFound

        self.settings.site(site)  # a site no longer configured fails here, naming it
        try:
            with platforms.wordpress(self.settings, site) as client:
                try:
                    return client.get_post(post_id)
                except PostNotFound:
                    return None
        except PlatformError as exc:
            raise outbox_failure(exc) from None

    def __call__(self, job: Job) -> None:
        from bridge.clients.errors import PlatformError, outbox_failure

        p = job.payload
        try:
            h, why, members = self.happening(p)
        except PlatformError as exc:
            raise outbox_failure(exc) from None
        if h is None:
            log.info("notify.plan_nothing", key=job.key, reason=why)
            Outbox(self.engine).note(job, [why])
            return
        deliveries = self.plan(h, members)
        created = enqueue_deliveries(self.engine, h, deliveries)
        log.info("notify.planned", happening=h.id, deliveries=len(deliveries), new=created)

    def plan(self, h: Happening, members: Mapping[str, str]) -> list[Delivery]:
        events = (NEW_POSTS,) if h.kind == "new_post" else RANK
        wanting = {e: preferences.wanting(self.engine, e) for e in events if e in EVENTS}
        return plan(h, wanting, members)

    # -- what the happening is ------------------------------------------------------------------------
    def happening(self, p: Mapping[str, Any]) -> tuple[Happening | None, str, dict[str, str]]:
        """(the happening or None, why None, forum username (lower case) -> sub of the members it concerns)."""
        if "happening" in p:
            try:
                return happenings.from_dict(p["happening"]), "", {}
            except ValueError as exc:
                from bridge.outbox import PermanentFailure

                raise PermanentFailure(f"bad notify.plan payload: {exc}") from None
        if "blog" in p:
            from sync.search.feed import site_language

            site, post_id = str(p["blog"]), int(p["post_id"])
            if not anyone_wants(self.engine, (NEW_POSTS,)):
                return None, "no member chose new posts", {}
            post = self.read_blog_post(site, post_id)
            h = happenings.from_blog_post(site, post, language=site_language(self.settings, site), now=_now())
            return h, "" if h else "the post is not public, or not new", {}
        if "forum_topic" in p:
            return self._forum_topic(int(p["forum_topic"]))
        if "forum_post" in p:
            return self._forum_post(int(p["forum_post"]), int(p["topic_id"]))
        from bridge.outbox import PermanentFailure

        raise PermanentFailure(f"bad notify.plan payload: keys {sorted(p)}")

    def _mirrored(self, topic_id: int) -> Mapping[str, Any] | None:
        from sync import mapping

        with reader(self.engine) as conn:
            return mapping.by_topic(conn, topic_id)

    def _categories(self, topic: Mapping[str, Any]):
        from sync.relay import forum

        return forum.category_index(self.settings, need=topic.get("category_id"))

    def _forum_url(self) -> str:
        return str(self.settings.discourse.url)

    def _forum_topic(self, topic_id: int) -> tuple[Happening | None, str, dict[str, str]]:
        from sync.search.documents import FORUM_SITE
        from sync.search.feed import site_language

        if self.settings.discourse is None:
            return None, "no forum configured", {}
        if not anyone_wants(self.engine, (NEW_POSTS,)):
            return None, "no member chose new posts", {}
        if self._mirrored(topic_id) is not None:
            return None, "a mirrored blog post's topic: the post is the happening", {}
        topic = self.forum().topic_data(topic_id)
        if topic is None:
            return None, "the topic is gone", {}
        if str(topic.get("external_id") or "").startswith("wp-"):
            return None, "a mirrored blog post's topic: the post is the happening", {}
        posts = (topic.get("post_stream") or {}).get("posts") or []
        first = next((x for x in posts if isinstance(x, dict) and x.get("post_number") == 1), None)
        h = happenings.from_forum_topic(topic, first, self._categories(topic), self._forum_url(), now=_now(),
                                        language=site_language(self.settings, FORUM_SITE))
        if h is None:
            return None, "the topic is not public, or not new", {}
        members = members_by_name(self.engine, [h.author_name], self.forum().user_by_external_id)
        return dataclasses.replace(h, author_sub=members.get((h.author_name or "").lower())), "", {}

    def _forum_post(self, post_id: int, topic_id: int) -> tuple[Happening | None, str, dict[str, str]]:
        from sync.search.documents import FORUM_SITE
        from sync.search.feed import site_language

        if self.settings.discourse is None:
            return None, "no forum configured", {}
        if not anyone_wants(self.engine, RANK):
            return None, "no member chose replies or mentions", {}
        forum = self.forum()
        topic = forum.topic_data(topic_id)
        if topic is None:
            return None, "the topic is gone", {}
        posts = [x for x in (topic.get("post_stream") or {}).get("posts") or [] if isinstance(x, dict)]
        post = next((x for x in posts if x.get("id") == post_id), None)
        if post is None or (post.get("reply_to_post_number") and not post.get("reply_to_user")
                            and answers.reply_number(post) not in {x.get("post_number") for x in posts}):
            # GET /posts/{id}.json says whom it answers (reply_to_user) when the stream's first
            # posts do not hold the parent
            post = forum.post_data(post_id)
        if post is None:
            return None, "the post is gone", {}
        row = self._mirrored(topic_id)
        h = happenings.from_forum_reply(post, topic, posts, self._categories(topic), self._forum_url(),
                                        mirrored=row is not None, now=_now(),
                                        language=site_language(self.settings, FORUM_SITE))
        if h is None:
            return None, "the reply is not public, or not new", {}
        c = h.concerned
        members = members_by_name(self.engine, [c.topic_owner, c.parent_author, *c.mentioned, h.author_name],
                                  forum.user_by_external_id)
        if row is not None and c.topic_owner:
            post_as_read = self.read_blog_post(row["site"], int(row["post_id"]))
            author = post_as_read.author.external_id if post_as_read is not None and post_as_read.author else None
            if author:
                members[c.topic_owner.lower()] = str(author)
            else:
                members.pop(c.topic_owner.lower(), None)
        return dataclasses.replace(h, author_sub=members.get((h.author_name or "").lower())), "", members

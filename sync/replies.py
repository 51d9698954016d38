"""Replies back: the discussion of a mirrored topic, written into its blog post's meta.

`mirror.replies` (payload ``{"topic_id"}``, queued by the Discourse web hook on post_created,
post_edited, post_destroyed and post_recovered in a mirrored topic) reads the topic from the
forum and writes, through WordPressClient.set_meta, into the post's bridge meta:

* ``reply_count``: the topic's replies (posts after the first);
* ``replies``: the latest `mirror.latest_replies`, newest first, each
  ``{"id", "username", "name", "avatar", "excerpt", "url", "created_at"}`` (avatar and url
  absolute; the excerpt is plain text of the reply's own words, sync/excerpt.py, which the
  mu-plugin escapes);
* ``topic_url`` and ``synced_at``.

The space-bridge-mirror.php mu-plugin shows them under the post with a "Join the discussion"
link; page views never call the forum or the bridge. The web hook body is only a hint: the
replies are read from the forum, so an edit or a deletion is reflected however deliveries
were ordered. Reading uses the client's listed routes ``GET /t/{id}.json`` and
``GET /posts/{id}.json`` (for replies beyond the topic's first page of 20 posts).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog

from bridge.clients.discourse import DiscourseError
from bridge.clients.errors import outbox_failure
from bridge.clients.wordpress import PostNotFound, WordPressError
from bridge.outbox import Job
from bridge.store import reader
from sync import mapping, render
from sync.clients import MirrorClients

log = structlog.get_logger(__name__)

KIND_REPLIES = "mirror.replies"

AVATAR_SIZE = 48


def _absolute(base: str, url: str | None) -> str | None:
    if not url:
        return None
    if url.startswith("//"):
        return "https:" + url
    if url.startswith("/"):
        return base + url
    return url


def latest_replies(mirror: MirrorClients, topic_id: int) -> tuple[int, list[dict[str, Any]], str] | None:
    """(reply count, latest replies newest first, topic URL) of a topic; None if it is gone."""
    forum = mirror.forum
    settings = mirror.settings.mirror
    data = forum.topic_data(topic_id)
    if data is None:
        return None
    stream = (data.get("post_stream") or {})
    loaded = {p["id"]: p for p in stream.get("posts") or []}
    ids = list(stream.get("stream") or loaded)
    slug = data.get("slug") or "topic"
    topic_url = f"{forum.url}/t/{slug}/{data['id']}"
    replies: list[dict[str, Any]] = []
    for post_id in reversed(ids):
        if len(replies) >= settings.latest_replies:
            break
        post = loaded.get(post_id)
        if post is None:
            post = forum.post_data(post_id)
            if post is None:
                continue
        if (post.get("post_number") or 1) <= 1 or post.get("post_type", 1) != 1:
            continue
        if post.get("hidden") or post.get("deleted_at") or post.get("user_deleted"):
            continue
        avatar = (post.get("avatar_template") or "").replace("{size}", str(AVATAR_SIZE))
        replies.append({
            "id": post["id"],
            "username": post.get("username"),
            "name": post.get("name") or post.get("display_username") or post.get("username"),
            "avatar": _absolute(forum.url, avatar),
            "excerpt": render.reply_excerpt(post.get("cooked") or post.get("raw") or "",
                                            settings.reply_excerpt_chars, forum.url),
            "url": f"{topic_url}/{post.get('post_number')}",
            "created_at": post.get("created_at"),
        })
    count = data.get("reply_count")
    if count is None:
        count = max(0, int(data.get("posts_count") or 1) - 1)
    return int(count), replies, topic_url


def handle_replies(mirror: MirrorClients, job: Job) -> None:
    topic_id = int(job.payload["topic_id"])
    with reader(mirror.engine) as conn:
        row = mapping.by_topic(conn, topic_id)
    if row is None:
        log.info("mirror.replies_unmapped", topic_id=topic_id)
        return
    site = mirror.site(row["site"])
    try:
        found = latest_replies(mirror, topic_id)
    except DiscourseError as exc:
        raise outbox_failure(exc) from None
    if found is None:
        log.warning("mirror.replies_topic_gone", topic_id=topic_id)
        return
    count, replies, topic_url = found
    try:
        written = mirror.wordpress(site.name).set_meta(
            row["post_id"], reply_count=count, replies=replies, topic_url=topic_url,
            topic_id=topic_id, synced_at=dt.datetime.now(dt.timezone.utc))
    except PostNotFound:
        log.info("mirror.replies_post_gone", site=site.name, post_id=row["post_id"])
        return
    except WordPressError as exc:
        raise outbox_failure(exc) from None
    mapping.save(mirror.engine, site.name, row["post_id"], wp_modified=written.modified)
    log.info("mirror.replies", site=site.name, post_id=row["post_id"], topic_id=topic_id, replies=count)

"""What the index holds of a blog post or a forum post: pure mappings, no I/O.

Only what an anonymous visitor may read becomes a `Document`. A blog post is public when it is
published and has no password (WordPress shows a password-protected post's content only to
those who type it: wp-includes/post-template.php `post_password_required`); a draft, a pending or
scheduled post, a private one or one in the trash is not. A forum post is public when its topic
is (a regular topic, listed, not deleted, in a category anyone may read: the rules the relay
applies, sync/relay/privacy.py) and the post itself is a regular, visible, undeleted post (not a
whisper, not a small action, not hidden by flags).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.clients.wordpress import Post
from sync import excerpt
from sync.relay.privacy import CategoryIndex, post_state_reason, topic_reason
from sync.search.engines.base import Document
from sync.webhooks import iso_time

BLOG, FORUM = "blog", "forum"
FORUM_SITE = "forum"  # the forum's `site` in the index (a blog's is its name in wordpress.sites)


def blog_reason(post: Post | None) -> str | None:
    """Why this post may not be in the index, or None when anyone may read it."""
    if post is None:
        return "deleted"
    if post.status != "publish":
        return f"status {post.status}"
    if post.protected:
        return "password-protected"
    return None


def blog_document(site: str, post: Post, language: str | None = None) -> Document | None:
    """The post as indexed, or None when it is not public. `language`: the site's, for a post
    that does not say its own."""
    if blog_reason(post) is not None:
        return None
    return Document(
        source=BLOG, site=site, remote_id=str(post.id), url=post.permalink, title=post.title,
        body=excerpt.plain_text(post.content, base=post.permalink, drop_quotes=False),
        created_at=_naive(post.published or post.modified), updated_at=_naive(post.modified),
        author=post.author.name if post.author else None, language=post.language or language,
        tags=tuple(post.tag_names), category=post.category_names[0] if post.category_names else None,
        category_ref=post.categories[0] if post.categories else None,
        replies=max(0, int(post.meta.reply_count or 0)),
    )


def forum_documents(topic: Mapping[str, Any], posts: Sequence[Mapping[str, Any]], categories: CategoryIndex | None,
                    forum_url: str, language: str | None = None) -> tuple[str | None, list[Document]]:
    """(why the topic is private, or None; the documents of its public posts). A private topic
    has no documents: all of its posts leave the index."""
    reason = topic_reason(topic, categories)
    if reason is not None:
        return reason, []
    topic_id = int(topic["id"])
    slug = topic.get("slug") or "topic"
    base = f"{forum_url.rstrip('/')}/t/{slug}/{topic_id}"
    category_id = topic.get("category_id")
    tags = tuple(t if isinstance(t, str) else str(t.get("name") or "") for t in topic.get("tags") or ()
                 if isinstance(t, (str, dict)))
    docs = []
    for post in posts:
        if post_state_reason(post) is not None or not isinstance(post.get("id"), int):
            continue
        number = post.get("post_number") or 1
        created = _parse(post.get("created_at")) or _parse(topic.get("created_at")) or dt.datetime(1970, 1, 1)
        docs.append(Document(
            source=FORUM, site=FORUM_SITE, remote_id=str(post["id"]), thread=str(topic_id),
            url=base if number == 1 else f"{base}/{number}", title=str(topic.get("title") or ""),
            title_searchable=number == 1,
            body=excerpt.plain_text(post.get("cooked") or "", base=forum_url),
            created_at=created, updated_at=_parse(post.get("updated_at")) or created,
            author=post.get("username"), language=topic.get("locale") or post.get("locale") or language,
            tags=tuple(t for t in tags if t), category=categories.name(category_id) if categories else None,
            category_ref=str(category_id) if category_id is not None else None,
            views=int(topic.get("views") or 0) if number == 1 else 0,
            replies=_replies(topic) if number == 1 else int(post.get("reply_count") or 0),
        ))
    return None, docs


def _replies(topic: Mapping[str, Any]) -> int:
    count = topic.get("reply_count")
    if not isinstance(count, int):
        count = max(0, int(topic.get("posts_count") or 1) - 1)
    return count


def _parse(value: Any) -> dt.datetime | None:
    """Discourse's ISO 8601 times ("2026-01-31T10:00:00.000Z") as naive UTC, as the index stores them."""
    if not isinstance(value, str):
        return None
    parsed = iso_time(value)
    return _naive(parsed) if parsed is not None else None


def _naive(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value

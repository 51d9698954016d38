"""Whether a forum topic or post may be shown to the public (pure): the rules, not the I/O.

The forum's web hook covers every category, so each topic and post event is judged from what
Discourse puts in the payload, and from the forum's categories where the payload is silent:

- a topic (WebHookTopicViewSerializer < TopicViewSerializer; GET /t/{id}.json has the same
  fields) carries ``archetype`` (``private_message`` for a PM), ``visible`` (false: unlisted),
  ``deleted_at`` and ``category_id``;
- a post (WebHookPostSerializer < PostSerializer) carries ``post_type`` (Post.types in
  app/models/post.rb: regular 1, moderator_action 2, small_action 3, whisper 4),
  ``topic_archetype``, ``hidden``, ``deleted_at`` and ``category_id``, but not whether its
  topic is listed: the delivery-time re-check (sync/relay/forum.py) reads the topic for that;
- neither says whether the category is read-restricted: BasicCategorySerializer's
  ``read_restricted`` comes from GET /categories.json (:class:`CategoryIndex`). Discourse lets
  a subcategory be no more open than its parent, but the parent is checked too.

Every function answers with the reason the content is private, or None when it is public.
Anything missing or unknown (no archetype, no visibility, an unknown category, no category
map at all) is a reason: the relay fails closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.clients.discourse import Category

PRIVATE_MESSAGE = "private_message"
PUBLIC_ARCHETYPES = ("regular", "banner")  # app/models/archetype.rb
REGULAR, WHISPER = 1, 4  # Post.types


@dataclass(frozen=True)
class CategoryIndex:
    """The forum's categories by id, as read at one moment."""

    by_id: Mapping[int, Category] = field(default_factory=dict)

    def __contains__(self, category_id: object) -> bool:
        return category_id in self.by_id

    def name(self, category_id: int | None) -> str | None:
        cat = self.by_id.get(category_id) if category_id is not None else None
        return cat.name if cat is not None and cat.name else None

    def reason(self, category_id: Any) -> str | None:
        """Why topics of this category are private (itself or a parent read-restricted, unknown)."""
        if category_id is None:
            return "no category"
        seen: set[int] = set()
        current = category_id
        while current is not None and current not in seen:
            seen.add(current)
            cat = self.by_id.get(current)
            if cat is None:
                return f"unknown category {current}"
            if cat.read_restricted:
                return f"read-restricted category {cat.name or cat.id}"
            current = cat.parent_category_id
        return None


def category_reason(category_id: Any, categories: CategoryIndex | None) -> str | None:
    if categories is None:
        return "the forum's categories could not be read"
    return categories.reason(category_id)


def topic_reason(topic: Mapping[str, Any], categories: CategoryIndex | None) -> str | None:
    """Why this topic (a web hook's ``topic`` or GET /t/{id}.json) is private, or None."""
    archetype = topic.get("archetype")
    if archetype == PRIVATE_MESSAGE:
        return "private message"
    if archetype not in PUBLIC_ARCHETYPES:
        return f"topic archetype {archetype!r}"
    if topic.get("visible") is not True:
        return "unlisted topic"
    if topic.get("deleted_at"):
        return "deleted topic"
    return category_reason(topic.get("category_id"), categories)


def post_reason(post: Mapping[str, Any], categories: CategoryIndex | None) -> str | None:
    """Why this post (a web hook's ``post``) is private, or None. Its topic's listing is not in
    the payload: the delivery-time re-check reads it."""
    archetype = post.get("topic_archetype")
    if archetype == PRIVATE_MESSAGE:
        return "private message"
    if archetype not in PUBLIC_ARCHETYPES:
        return f"topic archetype {archetype!r}"
    topic_id = post.get("topic_id")
    if not isinstance(topic_id, int) or isinstance(topic_id, bool):
        return "no topic id"  # without one the delivery-time re-check cannot see an unlisted topic
    return post_state_reason(post) or category_reason(post.get("category_id"), categories)


def post_state_reason(post: Mapping[str, Any]) -> str | None:
    """What the post itself says (a web hook's ``post`` or GET /posts/{id}.json): a whisper, a
    post hidden by flags, a deleted one."""
    if post.get("post_type") == WHISPER:
        return "whisper"
    if post.get("post_type") != REGULAR:
        return f"post type {post.get('post_type')!r}"
    if post.get("hidden"):
        return "hidden post"
    if post.get("deleted_at"):
        return "deleted post"
    return None

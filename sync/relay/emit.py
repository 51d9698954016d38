"""Emitters: the mirror and the forum's web hook hand their happenings to the relay.

Both only queue jobs (sync/relay/deliver.py) and never fail their caller: a relay problem is
logged, the mirror or the web hook goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from sync.relay import forum
from sync.relay.deliver import relay
from sync.relay.events import POST_PUBLISHED, POST_UPDATED, Event, _parse_time, from_discourse, plain_excerpt

log = structlog.get_logger(__name__)


def event_from_post(site_name: str, post: Any, *, updated: bool, topic_url: str | None = None) -> Event:
    """post.published / post.updated for a mirrored post (bridge.clients.wordpress.Post)."""
    modified = post.modified.isoformat() if post.modified else ""
    return Event(id=f"wp:{site_name}:{post.id}:updated:{modified}" if updated else f"wp:{site_name}:{post.id}:published",
                 type=POST_UPDATED if updated else POST_PUBLISHED, language=post.language or "en",
                 category=(post.category_names or post.categories or (None,))[0],
                 tags=tuple(post.tag_names or post.tags or ()), site=site_name,
                 author=post.author.name if post.author else None, url=post.permalink or topic_url,
                 title=post.title or None, excerpt=plain_excerpt(post.excerpt),
                 occurred_at=_parse_time(post.modified))


def post_mirrored(settings, engine, site, post, *, updated: bool, topic_url: str | None = None) -> None:
    """Called by the mirror once a topic was created (published) or updated for `post`."""
    try:
        relay(engine, settings, event_from_post(site.name, post, updated=updated, topic_url=topic_url))
    except Exception:  # noqa: BLE001 - the mirror's work is done; never undo it for the relay
        log.exception("relay.emit_failed", site=site.name, post_id=post.id)


CATEGORY_EVENTS = ("category_created", "category_updated", "category_destroyed")
_NO_CATEGORY = ("user_",)  # events that name no category: no need to read the forum's categories


def _category_id(payload: Mapping[str, Any]) -> Any:
    for key in ("topic", "post", "reviewable", "flag"):
        if isinstance(payload.get(key), Mapping):
            return payload[key].get("category_id")
    return None


def discourse_event(settings, engine, event_name: str, payload: Mapping[str, Any]) -> list:
    """Called by the forum's web hook endpoint for every signed delivery, with its body already
    read as a JSON object (sync/webhooks.json_object); returns the queued jobs.

    The category map (sync/relay/forum.py) names the event's category and says whether it is
    read-restricted; when the forum cannot be read, the event is private (fail closed).
    """
    try:
        if event_name in CATEGORY_EVENTS and settings.discourse is not None:
            forum.category_map(settings).invalidate()  # a permission may have changed: read again
            return []
        base = str(settings.discourse.url) if settings.discourse is not None else ""
        index = None if (event_name or "").startswith(_NO_CATEGORY) else forum.category_index(
            settings, need=_category_id(payload))
        event = from_discourse(event_name, payload, base_url=base, categories=index)
        if event is None:
            return []
        if event.private_reason:
            log.info("relay.private_event", event_id=event.id, reason=event.private_reason)
        return relay(engine, settings, event)
    except Exception:  # noqa: BLE001 - a payload the mapping does not understand: log, acknowledge
        log.exception("relay.emit_failed", discourse_event=event_name)
        return []

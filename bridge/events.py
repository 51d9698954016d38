"""What one flow tells the others, without importing them: named events within one process.

The mirror reads every changed blog post and receives the forum's web hook; the search index
(and later flows) want to hear of both without a second read or a second receiver. A flow
publishes, the shell hands the event to each enabled feature that subscribed to its name
(`Feature.subscribers`), in name order, and the publisher never knows who listens: the same
shape as blinker's named signals in Flask, but scoped to the features the loaded configuration
turns on, so a disabled feature hears nothing.

Subscribers run in the publisher's job or request. They must be quick and local (a write to
the bridge's database, a job queued); slow work belongs in a job of their own. A subscriber's
failure is logged and does not fail the publisher: the flows keep their own catch-up (each
periodic reconcile), and a broken index must not stop the forum discussion of a post.

Events published today:

- ``blog.post_read`` (``site``, ``post_id``, ``post``: the `Post` as just read, None when the
  post is gone): the mirror read a post of a blog;
- ``blog.post_changed`` (``site``, ``post_id``, ``status``, ``modified``, ``mirrored``: whether
  a mirror job will read the post and publish ``blog.post_read``): a blog's web hook arrived;
- ``forum.webhook`` (``event``, ``data``: the delivery's JSON object): the forum's web hook
  arrived, its signature checked;
- ``member.login`` (``sub``): a member logged in with their Wikimedia account (sso/wikimedia.py),
  their account row written.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import structlog

from bridge import features

if TYPE_CHECKING:
    import sqlalchemy as sa

    from bridge.config import Settings

log = structlog.get_logger(__name__)


# Reading the installed features takes milliseconds (entry point metadata); an event is published
# on every web hook and mirror job, so each configuration's subscribers are looked up once. The
# cache holds the settings object itself, so an id is never reused while its entry lives.
_CACHE_SIZE = 16
_cache: OrderedDict[int, tuple[object, list[features.Feature]]] = OrderedDict()
_cache_lock = threading.Lock()


def _enabled(settings: "Settings") -> list[features.Feature]:
    with _cache_lock:
        hit = _cache.get(id(settings))
        if hit is not None and hit[0] is settings:
            _cache.move_to_end(id(settings))
            return hit[1]
    found = features.enabled(settings)
    with _cache_lock:
        _cache[id(settings)] = (settings, found)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return found


def publish(settings: "Settings", engine: "sa.Engine", name: str, **data: Any) -> int:
    """Hand event `name` to every enabled feature subscribed to it; returns how many heard it."""
    heard = 0
    for feature in _enabled(settings):
        subscriber = feature.subscribers.get(name)
        if subscriber is None:
            continue
        try:
            subscriber(settings, engine, **data)
            heard += 1
        except Exception as exc:  # noqa: BLE001 - one feature's failure is its own (see module docstring)
            log.error("events.subscriber_failed", feature_name=feature.name, event_name=name,
                      error=f"{type(exc).__name__}: {exc}"[:500])
    return heard

"""What the forum says now about its categories and topics, for the relay's privacy rules (I/O).

Asked at two moments:

- when a web hook arrives (sync/relay/emit.py): each category's name and whether it is
  read-restricted, from one GET /categories.json per process, kept
  ``relay.category_cache_seconds`` (default 300) and read again early when an id it does not
  know shows up (at most every MIN_REFRESH_SECONDS) or a category_* web hook says one changed;
- just before a forum event goes to a public target (sync/relay/deliver.py): is the topic
  still public? :class:`ForumCheck` reads the topic again (GET /t/{id}.json; for a reply the
  post too, GET /posts/{id}.json) and looks its category up in a map no older than
  RECHECK_SECONDS, so a job queued before its category became restricted, its topic was
  unlisted, moved or deleted, or the reply was hidden by flags, is withheld.

Why the map lives in memory, per process, rather than in the store: it is a small copy of
what the forum owns, rebuilt by one request; a table would need a migration and would still
have to be refreshed from the forum, and the delivery-time re-check (not the cache) is what
keeps private content off public targets, so a stale entry in one process can at worst name
a category by its old name or hold back a public event, never publish a private one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from bridge.clients.discourse import Category, DiscourseError
from bridge.clients.errors import outbox_failure
from sync.relay import privacy
from sync.relay.events import REPLY_CREATED, Event
from sync.relay.privacy import CategoryIndex

log = structlog.get_logger(__name__)

MIN_REFRESH_SECONDS = 1.0
RECHECK_SECONDS = 5.0
REPLY_PREFIX = "discourse:post:"  # sync/relay/events.py: the id of a reply's event


class CategoryMap:
    """id -> category of one forum, read by `load` and kept `ttl` seconds; thread-safe (one
    load at a time, the others wait for its result)."""

    def __init__(self, load: Callable[[], Mapping[int, Category]], ttl: float, *,
                 clock: Callable[[], float] = time.monotonic, min_refresh: float = MIN_REFRESH_SECONDS):
        self._load, self.ttl, self._clock, self._min_refresh = load, ttl, clock, min_refresh
        self._lock = threading.Lock()
        self._index: CategoryIndex | None = None
        self._loaded_at = 0.0

    def index(self, *, max_age: float | None = None, need: Any = None) -> CategoryIndex:
        """The map, read again when older than `max_age` (default: the ttl), or when it lacks
        the category `need` and is older than the minimum refresh interval. Raises what the
        load raises (DiscourseError)."""
        limit = self.ttl if max_age is None else min(self.ttl, max_age)
        with self._lock:
            age = self._clock() - self._loaded_at
            missing = need is not None and self._index is not None and need not in self._index
            if self._index is None or age >= limit or (missing and age >= min(limit, self._min_refresh)):
                self._index = CategoryIndex(dict(self._load()))
                self._loaded_at = self._clock()
            return self._index

    def invalidate(self) -> None:
        with self._lock:
            self._index = None


_maps: dict[tuple[str, float], CategoryMap] = {}
_maps_lock = threading.Lock()


def category_map(settings) -> CategoryMap:
    """This process's map of the configured forum."""
    from bridge import platforms

    key = (str(settings.discourse.url), float(settings.relay.category_cache_seconds))
    with _maps_lock:
        found = _maps.get(key)
        if found is None:
            def load() -> Mapping[int, Category]:
                wait = settings.mirror.job_max_wait_seconds
                with platforms.discourse(settings, max_wait=wait, max_retries=1) as client:
                    return client.category_tree()

            found = _maps[key] = CategoryMap(load, key[1])
        return found


def category_index(settings, need: Any = None) -> CategoryIndex | None:
    """The map for a web hook being answered, or None when the forum could not be read (the
    caller then treats every category as private)."""
    if settings.discourse is None:
        return None
    try:
        return category_map(settings).index(need=need)
    except (DiscourseError, OSError) as exc:
        log.warning("relay.categories_unavailable", error=str(exc))
        return None


class ForumCheck:
    """Is a forum event still fit for the public, as the forum shows it now?"""

    def __init__(self, settings, *, client_factory: Callable[[], Any] | None = None,
                 categories: CategoryMap | None = None, clock: Callable[[], float] = time.monotonic):
        from bridge import platforms

        self._client_factory = client_factory or (lambda: platforms.discourse(
            settings, max_wait=settings.mirror.job_max_wait_seconds, max_retries=1))
        self._client = None
        self._categories = categories or category_map(settings)
        self._clock = clock
        self._seen: dict[tuple[str, int], tuple[float, dict | None]] = {}
        self._lock = threading.Lock()

    def reason(self, event: Event) -> str | None:
        """Why `event`'s topic is private now, or None. Raises the outbox's RetryLater or
        PermanentFailure when the forum cannot answer: nothing is published unchecked."""
        try:
            topic = self._read("topic", event.topic_id)
            if topic is None:
                return "the topic no longer exists on the forum"
            index = self._categories.index(max_age=RECHECK_SECONDS, need=topic.get("category_id"))
            post_id = event.id.removeprefix(REPLY_PREFIX)
            if event.type == REPLY_CREATED and post_id.isascii() and post_id.isdigit():  # hidden, deleted since?
                post = self._read("post", int(post_id))
                if post is None:
                    return "the post no longer exists on the forum"
                if state := privacy.post_state_reason(post):
                    return state
        except DiscourseError as exc:
            raise outbox_failure(exc) from None
        return privacy.topic_reason(topic, index)

    def _read(self, kind: str, object_id: int) -> dict | None:
        """GET /t/{id}.json or /posts/{id}.json, shared for RECHECK_SECONDS by every target of
        the same event."""
        now = self._clock()
        with self._lock:
            hit = self._seen.get((kind, object_id))
            if hit is not None and now - hit[0] < RECHECK_SECONDS:
                return hit[1]
            if self._client is None:
                self._client = self._client_factory()
            client = self._client
        data = client.topic_data(object_id) if kind == "topic" else client.post_data(object_id)
        with self._lock:
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < RECHECK_SECONDS}
            self._seen[(kind, object_id)] = (now, data)
        return data

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

"""The mirror's platform clients, shared by its job kinds (sync/mirror.py, sync/replies.py).

One `MirrorClients` per worker process: every job of the mirror goes through the same
Discourse client, so they share its pacer and the forum's request budget; WordPress clients
are kept per thread (one connection each).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy.engine import Engine

from bridge import platforms
import structlog

from bridge.clients.discourse import DiscourseClient, DiscourseError, User
from bridge.clients.wordpress import WordPressClient
from bridge.config import Settings, WordPressSite
from bridge.outbox import PermanentFailure

log = structlog.get_logger(__name__)

#: How long a forum user found by external id is taken as it was (a rename on the forum, or a
#: new account, is seen after at most this long; the look-up costs a forum request)
FORUM_USER_TTL = 300.0
#: How long the forum's `embed_unlisted` is taken as read (an admin who turns it on is followed
#: within this long; until then a new topic may stay unlisted until its first reply, as Discourse
#: would leave it anyway). One read of GET /admin/site_settings.json per period and process.
FORUM_SETTINGS_TTL = 600.0
#: ... and after a failed read (the forum down, a key that may not read settings): retry sooner.
FORUM_SETTINGS_RETRY = 60.0


class MirrorClients:
    """Settings, database and clients of the mirror's job handlers (thread-safe)."""

    def __init__(self, settings: Settings, engine: Engine, *, forum: DiscourseClient | None = None,
                 max_wait: float | None = -1.0):
        self.settings = settings
        self.engine = engine
        self._forum = forum
        self._max_wait = settings.mirror.job_max_wait_seconds if max_wait == -1.0 else max_wait
        self._local = threading.local()
        self._lock = threading.Lock()
        self._users: dict[str, tuple[float, User | None]] = {}
        self._unlists: tuple[float, bool] | None = None
        self._settings_lock = threading.Lock()  # one read of the forum's settings at a time

    @property
    def forum(self) -> DiscourseClient:
        with self._lock:
            if self._forum is None:
                self._forum = platforms.discourse(self.settings, max_wait=self._max_wait)
            return self._forum

    def forum_user(self, external_id: str) -> User | None:
        """The forum's user with this external id (None: none), asked at most once every
        FORUM_USER_TTL seconds per member and process."""
        now = time.monotonic()
        with self._lock:
            hit = self._users.get(external_id)
        if hit is not None and now - hit[0] < FORUM_USER_TTL:
            return hit[1]
        user = self.forum.user_by_external_id(external_id)
        with self._lock:
            self._users[external_id] = (now, user)
        return user

    def forum_unlists_embedded(self) -> bool:
        """Whether the forum leaves a new topic with an embed_url unlisted until its first reply
        (site setting `embed_unlisted`: lib/post_creator.rb). When it does not, which is how
        `space-bridge discourse setup` leaves it, a new topic is listed by its create alone and
        needs no read-back. Unknown (the setting unreadable) counts as yes: one request more per
        topic, never a discussion left out of the lists."""
        with self._settings_lock:
            now = time.monotonic()
            if self._unlists is not None and now < self._unlists[0]:
                return self._unlists[1]
            try:
                setting = self.forum.site_settings().get("embed_unlisted")
            except DiscourseError as exc:
                log.warning("mirror.settings_unreadable", error=str(exc))
                unlists, ttl = True, FORUM_SETTINGS_RETRY
            else:
                unlists = setting is None or setting.value.strip().lower() != "false"
                ttl = FORUM_SETTINGS_TTL
            self._unlists = (now + ttl, unlists)
            return unlists

    def wordpress(self, site: str) -> WordPressClient:
        clients = getattr(self._local, "wp", None)
        if clients is None:
            clients = self._local.wp = {}
        if site not in clients:
            clients[site] = platforms.wordpress(self.settings, site)
        return clients[site]

    def site(self, name: Any) -> WordPressSite:
        """The configured site a job names; a site no longer configured fails the job for good
        (retrying cannot bring it back)."""
        try:
            return self.settings.site(str(name))
        except KeyError as exc:
            raise PermanentFailure(str(exc)) from None

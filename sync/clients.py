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
from bridge.clients.discourse import DiscourseClient, User
from bridge.clients.wordpress import WordPressClient
from bridge.config import Settings, WordPressSite
from bridge.outbox import PermanentFailure

#: How long a forum user found by external id is taken as it was (a rename on the forum, or a
#: new account, is seen after at most this long; the look-up costs a forum request)
FORUM_USER_TTL = 300.0


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

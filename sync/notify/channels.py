"""The two ways a notification reaches a member: a section on their user talk page, an email.

Talk pages are written with the bridge's one bot account on the configured wiki (`mediawiki`):
the same checks as the relay's delivery lists (sync/relay/targets/wiki.py `write_section`:
{{nobots}} and {{bots|deny=...}} respected, a page already holding the happening's marker never
written again, the client's maxlag), paced by `notify.talk_edits_per_minute`. A member whose
home wiki is another one cannot be written to (a bot account on each wiki would be needed):
their message is `Undeliverable`, which the job notes instead of retrying.

Email goes through `notify.email` (or the relay digest's server) with the RFC 8058 headers; the
Message-ID is made from the delivery's key, so a message sent again after a crash is known by
mail clients as the same one.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import structlog

from sync.notify.render import Email, Talk
from sync.notify.settings import mail

log = structlog.get_logger(__name__)


class Undeliverable(Exception):
    """This member cannot be reached by this channel now (the reason says why); not retried."""


def _hosts(api_url: str) -> set[str]:
    parts = urlsplit(api_url)
    return {h for h in ((parts.hostname or "").lower(), parts.netloc.lower()) if h}


class TalkChannel:
    """User talk pages on the configured wiki; one per worker process (thread-safe)."""

    def __init__(self, settings, client=None):
        self.settings = settings
        mw = settings.mediawiki
        self.sites = _hosts(str(mw.api_url)) if mw is not None else set()
        self.bot_name = mw.username.partition("@")[0] if mw is not None else ""
        self.min_interval = 60.0 / settings.notify.talk_edits_per_minute
        self.retry_seconds = 300.0
        self._client = client
        self._lock = threading.Lock()
        self._last_edit = 0.0

    @property
    def available(self) -> bool:
        return bool(self.sites)

    def client(self):
        if self._client is None:
            from bridge import platforms

            self._client = platforms.mediawiki(self.settings)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def page(self, username: str, wiki: str | None) -> str:
        """The member's talk page; Undeliverable when it is on a wiki the bridge cannot edit."""
        if not self.sites:
            raise Undeliverable("no wiki is configured (mediawiki) to write talk pages on")
        if wiki is not None and wiki.lower() not in self.sites:
            raise Undeliverable(f"the bridge has no bot account on {wiki}; it writes only on {sorted(self.sites)[0]}")
        if not username:
            raise Undeliverable("the member's account has no username")
        return f"User talk:{username}"

    def _pace(self) -> None:
        wait = self._last_edit + self.min_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_edit = time.monotonic()

    def send(self, page: str, message: Talk, mark: str, summary: str, **context) -> str:
        """Write the section (see sync/relay/targets/wiki.py `write_section` for the outcomes)."""
        from bridge.clients.mediawiki import EditConflict, MediaWikiError
        from bridge.outbox import RetryLater
        from sync.relay.targets.wiki import write_section

        with self._lock:
            try:
                return write_section(self.client(), page, message.heading, message.text + " ~~~~~", mark, summary,
                                     bot_name=self.bot_name, pace=self._pace, **context)
            except EditConflict as exc:
                raise RetryLater(2, str(exc)) from None
            except MediaWikiError as exc:  # read-only, lagged, blocked, down: an admin or time may fix it
                raise RetryLater(self.retry_seconds, str(exc)) from None


class EmailChannel:
    def __init__(self, settings):
        self.settings = settings
        self.server = mail(settings)

    @property
    def available(self) -> bool:
        return self.server is not None

    def build(self, to: str, message: Email, headers: dict[str, str], message_id_seed: str, lang: str):
        """The email as it would leave (an EmailMessage), with the unsubscribe headers."""
        from sync.relay.targets.email import build_email

        if self.server is None:
            raise Undeliverable("no mail server is configured (notify.email or relay.digest)")
        _, sender = self.server
        msg = build_email(sender=sender, to=to, subject=message.subject, text=message.text, html=message.html,
                          message_id_seed=message_id_seed)
        msg["Content-Language"] = lang
        for name, value in headers.items():
            msg[name] = value
        return msg

    def send(self, to: str, message: Email, headers: dict[str, str], message_id_seed: str, lang: str) -> None:
        from sync.relay.targets.email import send

        msg = self.build(to, message, headers, message_id_seed, lang)
        send(self.server[0], msg)

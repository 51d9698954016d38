"""Relay target kind `wiki`: an entry on a feed page, and a new section on each subscriber's talk page.

options (WikiOptions):
  page: feed page the entry is added to (optional)
  position: top (prependtext, newest first) or bottom (appendtext); default top
  subscribers_page: page listing subscribers as MassMessage does, [[User talk:X]] links or
    {{target|page=User talk:X}} (optional); each listed page gets a new section
  edits_per_minute: pacing of this target's edits (default 10), whatever the number of pages
  summary: edit summary ($1: the message's one-line summary; default: the
    spacebridge-relay-edit-summary message in the target's language)
  retry_seconds: wait before retrying when the wiki is read-only, lagged or the page is
    protected (default 300); the outbox dead-letters after max_attempts
The wiki is the bridge's `mediawiki` section (bot password; maxlag is the client's).

The message: wikitext body (title: the section heading); member text as character references
(sync/relay/escape.py), so it shows as typed and never acts as markup.

Every edit carries a hidden marker <!-- space-bridge:EVENTID -->, and a page that already
holds the marker is not edited again: a redelivered job or a restart never adds a second
entry or section.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Literal

import structlog
from pydantic import Field

from bridge import i18n
from sync.relay.targets import TargetKind, TargetOptions

# The MediaWiki client (mwclient) and bridge.outbox (metrics) are imported where used: this module
# is imported when the configuration is validated (sync/relay/targets/__init__.py).

log = structlog.get_logger(__name__)


class WikiOptions(TargetOptions):
    page: str | None = Field(None, description="feed page the entry is added to")
    position: Literal["top", "bottom"] = Field("top", description="top: newest first; bottom: appended")
    subscribers_page: str | None = Field(None, description="page listing subscribers' talk pages")
    edits_per_minute: float = Field(10, gt=0, description="pacing of this target's edits")
    summary: str | None = Field(None, description="edit summary ($1: the message's one-line summary)")
    retry_seconds: float = Field(300, ge=0, description="wait before retrying a read-only, lagged or protected wiki")


HEADING = "{{ t(key, author|wiki, title|wiki) }}"
BODY = (
    "{{ t(key, author|wiki, title|wiki) }}"
    "{% if url %} — [{{ url }} {{ t('spacebridge-relay-read-more') }}]{% endif %}"
    "{% if event.excerpt %}\n: {{ event.excerpt|wiki }}{% endif %}"
    "{% if event.category %}\n{{ t('spacebridge-relay-category', event.category|wiki) }}{% endif %}"
    "{% if event.tags %}\n{{ t('spacebridge-relay-tags', event.tags|join(', ')|wiki) }}{% endif %}"
    " ~~~~~"
)


def render(event, lang: str, options: WikiOptions):
    from sync.relay import message as shared

    ctx = shared.context(event, lang)
    return shared.Message(text=shared.template(BODY).render(ctx).strip(), title=shared.template(HEADING).render(ctx))

_LINK = re.compile(r"\[\[\s*([^\]|#]+?)\s*(?:\|[^\]]*)?\]\]")
_TARGET_TPL = re.compile(r"\{\{\s*target\s*\|([^{}]*)\}\}", re.I)


SUMMARY_CHARS = 490
_PARTIAL_REFERENCE = re.compile(r"&#?[0-9A-Za-z]*$")


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, never in the middle of a character reference."""
    if len(text) <= limit:
        return text
    return _PARTIAL_REFERENCE.sub("", text[:limit])


def marker(event_id: str) -> str:
    safe = event_id.replace("--", "- -").replace(">", "")
    return f"<!-- space-bridge:{safe} -->"


def parse_subscribers(wikitext: str) -> list[str]:
    """Talk pages listed on a subscription page (MassMessage's formats), in order, once each.

    {{target|page=...}} entries with a site= other than this wiki's are not ours to deliver
    and are skipped; comments and nowiki are ignored.
    """
    text = re.sub(r"<!--.*?-->|<nowiki\s*>.*?</nowiki\s*>", "", wikitext, flags=re.S | re.I)
    found: list[tuple[int, str]] = []
    for m in _TARGET_TPL.finditer(text):
        params = dict(p.split("=", 1) for p in m.group(1).split("|") if "=" in p)
        params = {k.strip().lower(): v.strip() for k, v in params.items()}
        if params.get("page") and not params.get("site"):
            found.append((m.start(), params["page"]))
    for m in _LINK.finditer(_TARGET_TPL.sub(lambda t: " " * len(t.group(0)), text)):
        title = m.group(1).strip().lstrip(":")
        if re.match(r"(?i)(user[ _]talk|talk|project[ _]talk|[a-z ]+[ _]talk):", title):
            found.append((m.start(), title))
    seen, out = set(), []
    for _, p in sorted(found):
        ns, _, rest = p.replace("_", " ").partition(":")
        key = f"{ns.strip()[:1].upper()}{ns.strip()[1:]}:{rest.strip()[:1].upper()}{rest.strip()[1:]}"
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


class WikiTarget:
    def __init__(self, settings, target, client=None):
        from bridge import platforms
        from bridge.outbox import PermanentFailure

        self.name = target.name
        self.language = target.language
        opts = WikiOptions.of(target.options)
        self.page = opts.page
        self.position = opts.position
        self.subscribers_page = opts.subscribers_page
        if not self.page and not self.subscribers_page:
            raise PermanentFailure(f"wiki target {self.name}: needs options.page or options.subscribers_page")
        self.min_interval = 60.0 / opts.edits_per_minute
        self.summary = opts.summary
        self.retry_seconds = opts.retry_seconds
        if client is None:
            try:
                client = platforms.mediawiki(settings)
            except LookupError as exc:
                raise PermanentFailure(f"wiki target {self.name}: {exc}") from None
        self.client = client
        self._lock = threading.Lock()
        self._last_edit = 0.0

    def close(self) -> None:
        self.client.close()

    # -- pacing ----------------------------------------------------------------------------
    def _pace(self) -> None:
        wait = self._last_edit + self.min_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_edit = time.monotonic()

    def _has_marker(self, title: str, mark: str) -> bool:
        from bridge.clients.mediawiki import PageNotFound

        try:
            return mark in self.client.get_wikitext(title)
        except PageNotFound:
            return False

    def _summary(self, message, event) -> str:
        # The heading is already wikitext-escaped: edit summaries show character references
        # as characters and never link them (MediaWiki's includes/CommentFormatter/CommentParser.php
        # escapes with Sanitizer::escapeHtmlAllowEntities before it looks for [[links]]).
        line = message.title or message.text.splitlines()[0]
        if self.summary:
            return _cut(i18n.format_message("en", self.summary, line), SUMMARY_CHARS)
        return _cut(i18n.message(self.language or event.language or "en", "spacebridge-relay-edit-summary", line),
                    SUMMARY_CHARS)

    # -- delivery --------------------------------------------------------------------------
    def pages(self) -> list[str]:
        from bridge.clients.mediawiki import PageNotFound

        if not self.subscribers_page:
            return []
        try:
            return parse_subscribers(self.client.get_wikitext(self.subscribers_page))
        except PageNotFound:
            log.warning("relay.wiki_no_subscribers_page", target=self.name, page=self.subscribers_page)
            return []

    def deliver(self, message, event) -> None:
        from bridge.clients.mediawiki import (EditConflict, InvalidTitle, MediaWikiAuthError, MediaWikiEditRefused,
                                              MediaWikiError, MediaWikiUnavailable)
        from bridge.outbox import PermanentFailure, RetryLater

        mark = marker(event.id)
        summary = self._summary(message, event)
        with self._lock:
            try:
                if self.page and not self._has_marker(self.page, mark):
                    entry = "* " + message.text.splitlines()[0].removesuffix(" ~~~~~").strip() + " " + mark
                    self._pace()
                    if self.position == "top":
                        self.client.prepend_text(self.page, entry + "\n", summary)
                    else:
                        self.client.append_text(self.page, "\n" + entry, summary)
                    log.info("relay.wiki_feed", target=self.name, page=self.page, event_id=event.id)
                for talk in self.pages():
                    if self._has_marker(talk, mark):
                        continue
                    self._pace()
                    self.client.append_section(talk, message.title or event.type,
                                               message.text + "\n" + mark, summary)
                    log.info("relay.wiki_talk", target=self.name, page=talk, event_id=event.id)
            except (InvalidTitle,) as exc:
                raise PermanentFailure(str(exc)) from None
            except EditConflict as exc:
                raise RetryLater(2, str(exc)) from None
            except (MediaWikiEditRefused, MediaWikiUnavailable, MediaWikiAuthError) as exc:
                # read-only, protected, blocked, lagged, down: an admin or time may fix it
                raise RetryLater(self.retry_seconds, str(exc)) from None
            except MediaWikiError as exc:
                raise RetryLater(self.retry_seconds, str(exc)) from None


KIND = TargetKind(name="wiki", options=WikiOptions, render=render, build=WikiTarget)

"""Relay target kind `wiki`: an entry on a feed page, and a new section on each subscriber's talk page.

options (WikiOptions):
  page: feed page the entry is added to (optional)
  position: top (prependtext, newest first) or bottom (appendtext); default top
  subscribers_page: a delivery list on the wiki, kept by the members themselves as with
    MassMessage and Tech News (optional); each talk page it lists gets a new section per event.
    Read as sync/relay/wikilists.py says: wikitext lines {{#target:User talk:Name}} (or
    {{#target:User talk:Name|site}}), the older {{target|page=...}} and [[User talk:Name]], or
    the JSON delivery-list format when the page's content model is MassMessage's or core's json.
  list_check_seconds: how often the list's current revision id is looked up (default and at
    most 300); the list is read and parsed again only when that id changed. Each process keeps
    the parsed list per wiki and page, so a member's edit is seen within this time.
  edits_per_minute: pacing of this target's edits (default 10), whatever the number of pages
  summary: edit summary ($1: the message's one-line summary; default: the
    spacebridge-relay-edit-summary message in the target's language)
  retry_seconds: wait before retrying when the wiki is read-only, lagged or the feed page is
    protected (default 300); the outbox dead-letters after max_attempts
The wiki is the bridge's `mediawiki` section (bot password; maxlag is the client's).

Who gets what, and why:
* Only pages on this wiki are delivered to: a list entry naming another site (the `site`
  argument, e.g. meta.wikimedia.org) is skipped with a `relay.wiki_list_other_site` log line.
  Cross-wiki delivery needs a bot account on each wiki and is not done here.
* Before each talk page edit the page is read (one request: revision, content model, text).
  A page carrying {{nobots}}, {{bots|deny=...}} naming the bridge's bot (the account part of
  the bot password's `Name@botname`), {{bots|allow=...}} without it, or {{bots|optout=all}}
  is left untouched (https://en.wikipedia.org/wiki/Template:Bots): logged as
  `relay.wiki_bots_denied`, and the delivery still succeeds. So is a talk page that is not
  wikitext, protected against the bot, or not a valid title: the list is anyone's to edit, and
  one member's page must not hold back everyone else's message.
* Every edit carries a hidden marker <!-- space-bridge:EVENTID -->, and a page that already
  holds the marker is not edited again: a redelivered job or a restart never adds a second
  entry or section.

The message: wikitext body (title: the section heading); member text as character references
(sync/relay/escape.py), so it shows as typed and never acts as markup.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import structlog
from pydantic import Field

from bridge import i18n
from sync.relay import wikilists
from sync.relay.targets import TargetKind, TargetOptions

# The MediaWiki client (mwclient) and bridge.outbox (metrics) are imported where used: this module
# is imported when the configuration is validated (sync/relay/targets/__init__.py).

log = structlog.get_logger(__name__)


class WikiOptions(TargetOptions):
    page: str | None = Field(None, description="feed page the entry is added to")
    position: Literal["top", "bottom"] = Field("top", description="top: newest first; bottom: appended")
    subscribers_page: str | None = Field(None, description="delivery list page: subscribers' talk pages")
    list_check_seconds: float = Field(300, ge=0, le=300,
                                      description="how often the delivery list's revision id is looked up")
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
    """Talk pages on this wiki listed on a wikitext subscription page, in order, once each
    (sync/relay/wikilists.py reads it; entries for another site are not ours to deliver)."""
    return [t.title for t in wikilists.parse_wikitext_list(wikitext) if t.site is None]


# Namespaces no edit can reach (Special:, Media:): a list entry there is nobody's talk page.
_UNEDITABLE = re.compile(r"(?:Special|Media):")


@dataclass
class _DeliveryList:
    """A delivery list as last read: its revision, the targets on it, when it was last checked."""

    revision_id: int | None
    targets: list = field(default_factory=list)
    checked: float = 0.0


# The parsed lists of this process, keyed by (wiki, page): every target instance (one per
# worker pool) shares them, and a list is fetched again only when its revision id changed.
_LISTS: dict[tuple[str, str], _DeliveryList] = {}
_LISTS_LOCK = threading.Lock()


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
        self.list_check_seconds = opts.list_check_seconds
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
        api_url = str(settings.mediawiki.api_url) if getattr(settings, "mediawiki", None) is not None \
            else str(getattr(client, "api_url", "") or "")
        parts = urlsplit(api_url)
        self.wiki = api_url or f"client:{id(client)}"
        # MassMessage names a wiki by its host (includes/UrlHelper.php getBaseUrl).
        self.sites = {s for s in ((parts.hostname or "").lower(), parts.netloc.lower()) if s}
        username = settings.mediawiki.username if getattr(settings, "mediawiki", None) is not None \
            else str(getattr(client, "username", "") or "")
        # The bot password's login name is Account@botname: pages name the account.
        self.bot_name = username.partition("@")[0]
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
    def _read_list(self) -> _DeliveryList:
        from bridge.clients.mediawiki import PageNotFound

        try:
            rev = self.client.page_revision(self.subscribers_page, redirects=True)
        except PageNotFound:
            log.warning("relay.wiki_no_subscribers_page", target=self.name, page=self.subscribers_page)
            return _DeliveryList(None)
        try:
            targets = wikilists.parse_delivery_list(rev.text, rev.content_model)
        except ValueError as exc:
            # Nobody can tell who is on an unreadable list: nobody gets this delivery.
            log.error("relay.wiki_list_unreadable", target=self.name, page=self.subscribers_page,
                      revision=rev.revision_id, error=str(exc))
            targets = []
        local = []
        for t in targets:
            if t.site is not None and t.site not in self.sites:
                log.info("relay.wiki_list_other_site", target=self.name, page=self.subscribers_page,
                         title=t.title, site=t.site)
            elif not _UNEDITABLE.match(t.title):
                local.append(t.title)
        log.info("relay.wiki_list_read", target=self.name, page=self.subscribers_page,
                 revision=rev.revision_id, model=rev.content_model, subscribers=len(local))
        return _DeliveryList(rev.revision_id, local)

    def pages(self) -> list[str]:
        """The talk pages on this wiki the delivery list names now (no more than
        list_check_seconds old: then one cheap look at the list's revision id, and a new read
        only if it changed)."""
        if not self.subscribers_page:
            return []
        key = (self.wiki, self.subscribers_page)
        with _LISTS_LOCK:
            known = _LISTS.get(key)
        now = time.monotonic()
        if known is not None and now - known.checked < self.list_check_seconds:
            return list(known.targets)
        if known is None or self.client.revision_id(self.subscribers_page, redirects=True) != known.revision_id:
            known = self._read_list()
        known = _DeliveryList(known.revision_id, known.targets, now)
        with _LISTS_LOCK:
            _LISTS[key] = known
        return list(known.targets)

    def _deliver_to_talk(self, talk: str, mark: str, message, event, summary: str) -> None:
        write_section(self.client, talk, message.title or event.type, message.text, mark, summary,
                      bot_name=self.bot_name, pace=self._pace, target=self.name, event_id=event.id)

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
                    self._deliver_to_talk(talk, mark, message, event, summary)
            except (InvalidTitle,) as exc:
                raise PermanentFailure(str(exc)) from None
            except EditConflict as exc:
                raise RetryLater(2, str(exc)) from None
            except (MediaWikiEditRefused, MediaWikiUnavailable, MediaWikiAuthError) as exc:
                # read-only, protected, blocked, lagged, down: an admin or time may fix it
                raise RetryLater(self.retry_seconds, str(exc)) from None
            except MediaWikiError as exc:
                raise RetryLater(self.retry_seconds, str(exc)) from None


def write_section(client, talk: str, heading: str, text: str, mark: str, summary: str, *, bot_name: str,
                  pace, **context) -> str:
    """Add a section to a talk page unless it already holds `mark` or its owner keeps bots out;
    what happened: "written", "present", "bots-denied", "not-wikitext", "invalid" or "refused".

    Shared by this target's delivery lists and the members' own notifications
    (sync/notify/channels.py): the same checks, whoever asked for the page. The edit is paced
    by `pace()`; a page that may not take the edit (not wikitext, protected against the bot, not
    a title) is logged and skipped, never retried: it is one member's page. Wiki-wide trouble
    (read-only, lag, a conflict) is raised for the caller's retry.
    """
    from bridge.clients.mediawiki import InvalidTitle, PageNotFound, PageProtected

    try:
        current = client.page_revision(talk)
        page_text, model = current.text, current.content_model
    except PageNotFound:
        page_text, model = "", wikilists.WIKITEXT_MODEL
    except InvalidTitle:
        log.warning("relay.wiki_talk_invalid", page=talk, **context)
        return "invalid"
    if mark in page_text:
        return "present"
    if model != wikilists.WIKITEXT_MODEL:
        log.info("relay.wiki_talk_not_wikitext", page=talk, model=model, **context)
        return "not-wikitext"
    if not wikilists.bots_allow(page_text, bot_name):
        log.info("relay.wiki_bots_denied", page=talk, bot=bot_name, **context)
        return "bots-denied"
    pace()
    try:
        client.append_section(talk, heading, text + "\n" + mark, summary)
    except (PageProtected, InvalidTitle) as exc:
        log.warning("relay.wiki_talk_refused", page=talk, error=str(exc), **context)
        return "refused"
    log.info("relay.wiki_talk", page=talk, **context)
    return "written"


KIND = TargetKind(name="wiki", options=WikiOptions, render=render, build=WikiTarget)

"""What a member reads: one happening, a digest of several, the welcome note. Pure, no I/O.

Each message comes in the two shapes the channels need: a talk-page section (heading and
wikitext; the talk channel adds the marker) and an email (subject, plain text, HTML). Every
message says why it came and carries the signed link that stops it (sync/notify/unsubscribe.py):
the link of the reason it came for, or of everything for a digest and the welcome note.

Member text (titles, names, excerpts) is escaped for where it lands, with the relay's filters
(sync/relay/escape.py: character references in wikitext, so a title of `[[x]]` or `{{x}}` shows
as typed and never links or transcludes; HTML escaping in email). The catalogue's texts are the
bridge's own (bridge/i18n/*.json) and trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import markupsafe

from bridge import i18n
from sync.notify.plan import FIRST_REPLY, MENTIONS, NEW_POSTS, REPLIES_TO_POSTS, REPLIES_TO_TOPICS, Happening
from sync.relay import escape

_LINE = {
    NEW_POSTS: "spacebridge-notify-msg-new-post",
    MENTIONS: "spacebridge-notify-msg-mention",
    REPLIES_TO_POSTS: "spacebridge-notify-msg-reply-to-post",
    REPLIES_TO_TOPICS: "spacebridge-notify-msg-reply-to-topic",
    FIRST_REPLY: "spacebridge-notify-msg-first-reply",
}
SUBJECT_CHARS = 150


@dataclass(frozen=True)
class Links:
    settings: str      # the member's /me/notifications
    unsubscribe: str   # the signed link that stops what this message is about


@dataclass(frozen=True)
class Talk:
    heading: str  # wikitext, escaped
    text: str     # wikitext, escaped; the signature and the marker are the channel's


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def line(h: Happening, reason: str, lang: str) -> str:
    """The one-line summary, plain text ("Ana replied to your topic “Budget”")."""
    author = escape.clean(h.author_name) or i18n.message(lang, "spacebridge-relay-someone")
    title = escape.clean(h.title) or i18n.message(lang, "spacebridge-relay-untitled")
    return i18n.message(lang, _LINE[reason], author, title)


def _wiki_summary(h: Happening, reason: str, lang: str) -> str:
    """The one-line summary as wikitext: the catalogue's text as it is, the member text escaped."""
    author = escape.wikitext(escape.clean(h.author_name) or i18n.message(lang, "spacebridge-relay-someone"))
    title = escape.wikitext(escape.clean(h.title) or i18n.message(lang, "spacebridge-relay-untitled"))
    return i18n.message(lang, _LINE[reason], author, title)


def _wiki_line(h: Happening, reason: str, lang: str) -> str:
    text = _wiki_summary(h, reason, lang)
    url = escape.url(h.url)
    return f"{text} — [{url} {i18n.message(lang, 'spacebridge-notify-msg-read')}]" if url else text


def _wiki_footer(lang: str, links: Links) -> str:
    return (f"<small>{i18n.message(lang, 'spacebridge-notify-msg-why', '[' + links.settings + ' ' + i18n.message(lang, 'spacebridge-notify-msg-settings') + ']')}"
            f" [{links.unsubscribe} {i18n.message(lang, 'spacebridge-notify-msg-unsubscribe')}]</small>")


def talk(h: Happening, reason: str, lang: str, links: Links) -> Talk:
    body = [_wiki_line(h, reason, lang)]
    if h.excerpt:
        body.append(": " + escape.wikitext(escape.clean(h.excerpt)))
    body.append(_wiki_footer(lang, links))
    return Talk(heading=_wiki_summary(h, reason, lang), text="\n".join(body))


def talk_digest(items: Sequence[tuple[Happening, str]], lang: str, links: Links) -> Talk:
    """One section for every happening of the digest, in the order given."""
    body = [f"* {_wiki_line(h, reason, lang)}" for h, reason in items]
    body.append(_wiki_footer(lang, links))
    return Talk(heading=i18n.message(lang, "spacebridge-notify-digest-heading", str(len(items))),
                text="\n".join(body))


def _t_html(lang: str, key: str, *params) -> markupsafe.Markup:
    return markupsafe.Markup(i18n.message(lang, key, *(markupsafe.escape(p) for p in params)))


def _html(lang: str, paragraphs: Sequence[markupsafe.Markup], links: Links) -> str:
    settings = markupsafe.Markup('<a href="%s">%s</a>') % (links.settings, i18n.message(lang, "spacebridge-notify-msg-settings"))
    footer = markupsafe.Markup("<p><small>%s <a href=\"%s\">%s</a></small></p>") % (
        markupsafe.Markup(i18n.message(lang, "spacebridge-notify-msg-why", settings)), links.unsubscribe,
        i18n.message(lang, "spacebridge-notify-msg-unsubscribe"))
    return str(markupsafe.Markup('<html lang="%s" dir="%s"><body>%s%s</body></html>')
               % (lang, i18n.direction(lang), markupsafe.Markup("").join(paragraphs), footer))


def _text_footer(lang: str, links: Links) -> str:
    return (f"\n-- \n{i18n.message(lang, 'spacebridge-notify-msg-why', links.settings)}\n"
            f"{i18n.message(lang, 'spacebridge-notify-msg-unsubscribe')}: {links.unsubscribe}\n")


def _html_item(h: Happening, reason: str, lang: str) -> markupsafe.Markup:
    text = markupsafe.escape(line(h, reason, lang))
    url = escape.url(h.url)
    if url:
        text = markupsafe.Markup('%s — <a href="%s">%s</a>') % (text, url, i18n.message(lang, "spacebridge-notify-msg-read"))
    return text


def email(h: Happening, reason: str, lang: str, links: Links) -> Email:
    summary = line(h, reason, lang)
    text = [summary]
    if h.excerpt:
        text.append("\n" + escape.clean(h.excerpt))
    url = escape.url(h.url)
    if url:
        text.append(f"\n{i18n.message(lang, 'spacebridge-notify-msg-read')}: {url}")
    paragraphs = [markupsafe.Markup("<p>%s</p>") % _html_item(h, reason, lang)]
    if h.excerpt:
        paragraphs.append(markupsafe.Markup("<blockquote>%s</blockquote>") % escape.clean(h.excerpt))
    return Email(subject=_subject(summary), text="\n".join(text) + "\n" + _text_footer(lang, links),
                 html=_html(lang, paragraphs, links))


def email_digest(items: Sequence[tuple[Happening, str]], lang: str, links: Links) -> Email:
    heading = i18n.message(lang, "spacebridge-notify-digest-heading", str(len(items)))
    lines = []
    for h, reason in items:
        url = escape.url(h.url)
        lines.append(f"* {line(h, reason, lang)}" + (f"\n  {url}" if url else ""))
    items_html = markupsafe.Markup("").join(markupsafe.Markup("<li>%s</li>") % _html_item(h, r, lang) for h, r in items)
    return Email(subject=_subject(heading), text=heading + "\n\n" + "\n".join(lines) + "\n" + _text_footer(lang, links),
                 html=_html(lang, [markupsafe.Markup("<h1>%s</h1><ul>%s</ul>") % (heading, items_html)], links))


def welcome_talk(lang: str, links: Links) -> Talk:
    settings = f"[{links.settings} {i18n.message(lang, 'spacebridge-notify-msg-settings')}]"
    return Talk(heading=i18n.message(lang, "spacebridge-notify-welcome-heading"),
                text=i18n.message(lang, "spacebridge-notify-welcome-body", settings))


def welcome_email(lang: str, links: Links) -> Email:
    heading = i18n.message(lang, "spacebridge-notify-welcome-heading")
    settings_html = markupsafe.Markup('<a href="%s">%s</a>') % (links.settings, i18n.message(lang, "spacebridge-notify-msg-settings"))
    return Email(subject=_subject(heading),
                 text=i18n.message(lang, "spacebridge-notify-welcome-body", links.settings) + "\n" + _text_footer(lang, links),
                 html=_html(lang, [markupsafe.Markup("<p>%s</p>") % markupsafe.Markup(
                     i18n.message(lang, "spacebridge-notify-welcome-body", settings_html))], links))


def summary(lang: str, heading: str) -> str:
    """The edit summary of a talk-page section, from its (escaped) heading: MediaWiki links
    [[...]] in summaries (includes/CommentFormatter/CommentParser.php) but shows character
    references as the characters."""
    from sync.relay.targets.wiki import SUMMARY_CHARS, _cut

    return _cut(i18n.message(lang, "spacebridge-notify-edit-summary", heading), SUMMARY_CHARS)


def _subject(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUBJECT_CHARS else text[:SUBJECT_CHARS - 1] + "…"

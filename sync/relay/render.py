"""The message each kind of target gets for an event (pure): Jinja2 templates, banana strings.

`render(event, kind, language)` -> Message(text, html=None, title=None):
- wiki: wikitext body (title: the section heading); member text as character references
  (sync/relay/escape.py), so it shows as typed and never acts as markup;
- irc: one plain line, at most `max_bytes` (400) bytes in UTF-8 including the prefix, the URL
  kept whole at the end; optional mIRC colours (options: prefix, colours, max_bytes); member
  text carries no control character, so the only formatting is the bridge's;
- apprise: Markdown (Discord, Slack, Mattermost, text-only services) and HTML (Telegram,
  Matrix with format=html), member text without mentions of a room; no title, because Apprise
  puts a title into each service's own markup unescaped;
- email: plain text and HTML, title: the subject.
The language is the target's (given) or else the event's; unknown languages fall back to
English message by message, as bridge/i18n.py does.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import jinja2
import markupsafe

from bridge import i18n
from sync.relay import escape
from sync.relay.events import Event

KINDS = ("wiki", "irc", "apprise", "email")
IRC_MAX_BYTES = 400


@dataclasses.dataclass(frozen=True)
class Message:
    text: str
    html: str | None = None
    title: str | None = None


_MESSAGE_KEYS = {
    "post.published": "spacebridge-relay-post-published",
    "post.updated": "spacebridge-relay-post-updated",
    "topic.created": "spacebridge-relay-topic-created",
    "reply.created": "spacebridge-relay-reply-created",
    "flag.created": "spacebridge-relay-flag-created",
    "user.suspended": "spacebridge-relay-user-suspended",
}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")
_MD_LIST_START = re.compile(r"^(\d+)([.)])|^-")  # "1. " and "- " would start a list


def _md(value: Any) -> str:
    text = _MD_SPECIAL.sub(r"\\\1", escape.chat(value))
    return _MD_LIST_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}" if m.group(1) else "\\-", text)


_TEMPLATES = {
    "wiki.heading": "{{ t(key, author|wiki, title|wiki) }}",
    "wiki.body": (
        "{{ t(key, author|wiki, title|wiki) }}"
        "{% if url %} — [{{ url }} {{ t('spacebridge-relay-read-more') }}]{% endif %}"
        "{% if event.excerpt %}\n: {{ event.excerpt|wiki }}{% endif %}"
        "{% if event.category %}\n{{ t('spacebridge-relay-category', event.category|wiki) }}{% endif %}"
        "{% if event.tags %}\n{{ t('spacebridge-relay-tags', event.tags|join(', ')|wiki) }}{% endif %}"
        " ~~~~~"
    ),
    "apprise.body": (
        "{{ t(key, author|md, '**' ~ (title|md) ~ '**') }}"
        "{% if event.excerpt %}\n\n{{ event.excerpt|md }}{% endif %}"
        "{% if url %}\n\n[{{ t('spacebridge-relay-read-more') }}]({{ url }}){% endif %}"
    ),
    "apprise.html": (
        "<p>{{ t(key, author|chat, title|chat|bold) }}</p>"
        "{% if event.excerpt %}<p>{{ event.excerpt|chat }}</p>{% endif %}"
        '{% if url %}<p><a href="{{ url }}">{{ t("spacebridge-relay-read-more") }}</a></p>{% endif %}'
    ),
    "email.text": (
        "{{ summary_plain }}\n"
        "{% if event.excerpt %}\n{{ event.excerpt|oneline }}\n{% endif %}"
        "{% if url %}\n{{ t('spacebridge-relay-read-more') }}: {{ url }}\n{% endif %}"
    ),
    "email.html": (
        '<html lang="{{ lang }}" dir="{{ dir }}"><body>'
        "<p>{{ t(key, author, title) }}</p>"
        "{% if event.excerpt %}<blockquote>{{ event.excerpt|oneline }}</blockquote>{% endif %}"
        '{% if url %}<p><a href="{{ url }}">{{ t("spacebridge-relay-read-more") }}</a></p>{% endif %}'
        "</body></html>"
    ),
}

_FILTERS = {"wiki": escape.wikitext, "oneline": escape.clean, "md": _md, "chat": escape.chat,
            "bold": lambda s: markupsafe.Markup("<b>%s</b>") % s}
_env = jinja2.Environment(loader=jinja2.DictLoader(_TEMPLATES), autoescape=False, keep_trailing_newline=False,
                          undefined=jinja2.StrictUndefined)
_env.filters.update(_FILTERS)
_html_env = jinja2.Environment(loader=jinja2.DictLoader(_TEMPLATES), autoescape=True,
                               undefined=jinja2.StrictUndefined)
_html_env.filters.update(_FILTERS)


def _context(event: Event, lang: str, escape_html: bool = False) -> dict[str, Any]:
    def t(key, *params):
        if escape_html:  # the catalogue's texts are trusted, the parameters are not
            return markupsafe.Markup(i18n.message(lang, key, *(markupsafe.escape(p) for p in params)))
        return i18n.message(lang, key, *params)

    author = escape.clean(event.author) or i18n.message(lang, "spacebridge-relay-someone")
    title = escape.clean(event.title) or i18n.message(lang, "spacebridge-relay-untitled")
    key = _MESSAGE_KEYS[event.type]
    return {"event": event, "lang": lang, "dir": i18n.direction(lang), "t": t, "key": key,
            "author": author, "title": title, "url": escape.url(event.url),
            "summary_plain": i18n.message(lang, key, author, title)}


def _truncate_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    ell = "…".encode("utf-8")
    cut = data[: max(0, limit - len(ell))].decode("utf-8", "ignore")
    return cut + "…"


def irc_line(event: Event, lang: str, *, prefix: str = "", colours: bool = False,
             max_bytes: int = IRC_MAX_BYTES) -> str:
    ctx = _context(event, lang)
    summary = ctx["summary_plain"]  # author and title without control characters
    category = escape.clean(event.category)
    if colours:
        # mIRC: \x02 bold, \x03NN colour, \x0f reset, the only control codes of the line.
        cat = f"\x0314[{category}]\x0f " if category else ""
        head = f"{prefix}{cat}\x02{summary}\x02"
    else:
        head = f"{prefix}[{category}] {summary}" if category else f"{prefix}{summary}"
    tail = f" {ctx['url']}" if ctx["url"] else ""
    room = max_bytes - len(tail.encode("utf-8"))
    if room < 20:  # an absurdly long URL: cut the whole line
        return _truncate_bytes(head + tail, max_bytes)
    line = _truncate_bytes(head, room) + tail
    if colours and "\x02" in line and line.count("\x02") % 2:
        line = _truncate_bytes(head, room - 1)
        line = line + "\x0f" + tail
    return line


def render(event: Event, kind: str, language: str | None = None,
           options: Mapping[str, Any] | None = None) -> Message:
    """The message a target of `kind` gets for `event`, in `language` (default: the event's)."""
    lang = (language or event.language or i18n.DEFAULT_LANGUAGE)
    opts = dict(options or {})
    if kind == "wiki":
        ctx = _context(event, lang)
        return Message(text=_env.get_template("wiki.body").render(ctx).strip(),
                       title=_env.get_template("wiki.heading").render(ctx))
    if kind == "irc":
        return Message(text=irc_line(event, lang, prefix=str(opts.get("prefix", "")),
                                     colours=bool(opts.get("colours", False)),
                                     max_bytes=int(opts.get("max_bytes", IRC_MAX_BYTES))))
    if kind == "apprise":
        ctx = _context(event, lang)
        html = _html_env.get_template("apprise.html").render(_context(event, lang, escape_html=True))
        return Message(text=_env.get_template("apprise.body").render(ctx), html=html)
    if kind == "email":
        ctx = _context(event, lang)
        html = _html_env.get_template("email.html").render(_context(event, lang, escape_html=True))
        return Message(text=_env.get_template("email.text").render(ctx), html=html, title=ctx["summary_plain"])
    raise ValueError(f"unknown target kind {kind!r}")

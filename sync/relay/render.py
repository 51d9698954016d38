"""The message each kind of target gets for an event (pure): Jinja2 templates, banana strings.

`render(event, kind, language)` -> Message(text, html=None, title=None):
- wiki: wikitext body (title: the section heading), user-supplied text inside <nowiki>;
- irc: one plain line, at most `max_bytes` (400) bytes in UTF-8 including the prefix, the URL
  kept whole at the end; optional mIRC colours (options: prefix, colours, max_bytes);
- apprise: Markdown (Matrix, Telegram, ...), title: the one-line summary;
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

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def _nowiki(value: Any) -> str:
    text = str(value or "")
    if not text:
        return ""
    # A closing tag inside would end the escape early; break it.
    return "<nowiki>" + text.replace("</nowiki>", "&lt;/nowiki>") + "</nowiki>"


def _one_line(value: Any) -> str:
    return re.sub(r"\s+", " ", _CONTROL.sub(" ", str(value or ""))).strip()


def _md(value: Any) -> str:
    return _MD_SPECIAL.sub(r"\\\1", _one_line(value))


_TEMPLATES = {
    "wiki.heading": "{{ summary_plain }}",
    "wiki.body": (
        "{{ t(key, author|nowiki, title|nowiki) }}"
        "{% if event.url %} — [{{ event.url }} {{ t('spacebridge-relay-read-more') }}]{% endif %}"
        "{% if event.excerpt %}\n: {{ event.excerpt|oneline|nowiki }}{% endif %}"
        "{% if event.category %}\n{{ t('spacebridge-relay-category', event.category|nowiki) }}{% endif %}"
        "{% if event.tags %}\n{{ t('spacebridge-relay-tags', event.tags|join(', ')|nowiki) }}{% endif %}"
        " ~~~~~"
    ),
    "apprise.body": (
        "{{ t(key, author|md, '**' ~ (title|md) ~ '**') }}"
        "{% if event.excerpt %}\n\n{{ event.excerpt|md }}{% endif %}"
        "{% if event.url %}\n\n[{{ t('spacebridge-relay-read-more') }}]({{ event.url }}){% endif %}"
    ),
    "email.text": (
        "{{ summary_plain }}\n"
        "{% if event.excerpt %}\n{{ event.excerpt }}\n{% endif %}"
        "{% if event.url %}\n{{ t('spacebridge-relay-read-more') }}: {{ event.url }}\n{% endif %}"
    ),
    "email.html": (
        '<html lang="{{ lang }}" dir="{{ dir }}"><body>'
        "<p>{{ t(key, author, title) }}</p>"
        "{% if event.excerpt %}<blockquote>{{ event.excerpt }}</blockquote>{% endif %}"
        '{% if event.url %}<p><a href="{{ event.url }}">{{ t("spacebridge-relay-read-more") }}</a></p>{% endif %}'
        "</body></html>"
    ),
}

_env = jinja2.Environment(loader=jinja2.DictLoader(_TEMPLATES), autoescape=False, keep_trailing_newline=False,
                          undefined=jinja2.StrictUndefined)
_env.filters.update(nowiki=_nowiki, oneline=_one_line, md=_md)
_html_env = jinja2.Environment(loader=jinja2.DictLoader(_TEMPLATES), autoescape=True,
                               undefined=jinja2.StrictUndefined)


def _context(event: Event, lang: str, escape_html: bool = False) -> dict[str, Any]:
    def t(key, *params):
        if escape_html:  # the catalogue's texts are trusted, the parameters are not
            return markupsafe.Markup(i18n.message(lang, key, *(markupsafe.escape(p) for p in params)))
        return i18n.message(lang, key, *params)

    author = _one_line(event.author) or i18n.message(lang, "spacebridge-relay-someone")
    title = _one_line(event.title) or i18n.message(lang, "spacebridge-relay-untitled")
    key = _MESSAGE_KEYS[event.type]
    return {"event": event, "lang": lang, "dir": i18n.direction(lang), "t": t, "key": key,
            "author": author, "title": title, "summary_plain": i18n.message(lang, key, author, title)}


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
    summary = ctx["summary_plain"]
    if colours:
        # mIRC: \x02 bold, \x03NN colour, \x0f reset. Category in grey, summary in bold.
        cat = f"\x0314[{_one_line(event.category)}]\x0f " if event.category else ""
        head = f"{prefix}{cat}\x02{summary}\x02"
    else:
        cat = f"[{_one_line(event.category)}] " if event.category else ""
        head = f"{prefix}{cat}{summary}"
    tail = f" {event.url}" if event.url else ""
    head = _one_line(head) if not colours else _CONTROL.sub(lambda m: m.group(0) if m.group(0) in ("\x02", "\x03", "\x0f") else " ", head)
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
                       title=_env.get_template("wiki.heading").render(ctx).replace("=", "&#61;"))
    if kind == "irc":
        return Message(text=irc_line(event, lang, prefix=str(opts.get("prefix", "")),
                                     colours=bool(opts.get("colours", False)),
                                     max_bytes=int(opts.get("max_bytes", IRC_MAX_BYTES))))
    if kind == "apprise":
        ctx = _context(event, lang)
        return Message(text=_env.get_template("apprise.body").render(ctx), title=ctx["summary_plain"])
    if kind == "email":
        ctx = _context(event, lang)
        html = _html_env.get_template("email.html").render(_context(event, lang, escape_html=True))
        return Message(text=_env.get_template("email.text").render(ctx), html=html, title=ctx["summary_plain"])
    raise ValueError(f"unknown target kind {kind!r}")

"""What every relay target kind's renderer shares (pure): Jinja2 templates, banana strings.

The message keys of each event type (bridge/i18n.py), the Jinja2 environments with the escaping
filters every kind uses (sync/relay/escape.py: member text shows as typed and never acts as
markup), and the template context. Each kind's templates and renderer are in its own module
(sync/relay/targets/<kind>.py); sync/relay/render.py asks the kind of a target for its message.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import TYPE_CHECKING, Any

import jinja2
import markupsafe

from bridge import i18n
from sync.relay import escape

if TYPE_CHECKING:
    from sync.relay.events import Event


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


_FILTERS = {"wiki": escape.wikitext, "oneline": escape.clean, "md": _md, "chat": escape.chat,
            "bold": lambda s: markupsafe.Markup("<b>%s</b>") % s}
_env = jinja2.Environment(autoescape=False, keep_trailing_newline=False, undefined=jinja2.StrictUndefined)
_env.filters.update(_FILTERS)
_html_env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_html_env.filters.update(_FILTERS)


@functools.cache
def template(source: str, html: bool = False) -> jinja2.Template:
    """A kind's template, with the filters every kind shares: wiki, oneline, md, chat, bold.

    html=True: autoescaped (member text becomes HTML text); render it with context(escape_html=True).
    """
    return (_html_env if html else _env).from_string(source)


def context(event: Event, lang: str, escape_html: bool = False) -> dict[str, Any]:
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


def truncate_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    ell = "…".encode("utf-8")
    cut = data[: max(0, limit - len(ell))].decode("utf-8", "ignore")
    return cut + "…"

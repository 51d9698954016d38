"""The part of Discourse's Markdown cooking the double needs: paragraphs of escaped text with
line breaks, and [quote] blocks in the shape discourse-markdown-it cooks them.

Shapes, from Discourse's own tests (frontend/discourse/tests/unit/lib/pretty-text-test.js,
"Quotes"; the server adds the quoted member's avatar, lib/pretty_text.rb):

    [quote="bob, post:1, topic:2"]\\nmy quote\\n[/quote]
    -> <aside class="quote no-group" data-username="bob" data-post="1" data-topic="2">
       <div class="title"><div class="quote-controls"></div><img … class="avatar"> bob:</div>
       <blockquote><p>my quote</p></blockquote></aside>

Code: fenced blocks (```` ``` ```` or ``~~~``) become ``<pre><code class="lang-…">`` and backtick
spans ``<code>``, their text escaped and left alone (discourse-markdown/code.js: no info string is
the site's ``default_code_lang``, ``auto``; ``text``, ``pre``, ``plain`` are ``lang-nohighlight``).

@mentions, in two steps as Discourse takes them. discourse-markdown-it's mentions rule
(app/assets/javascripts/pretty-text/engines/discourse-markdown/mentions.js, run by
text-post-process.js on text tokens only, so never in code) turns ``@name`` into
``<span class="mention">@name</span>`` when the characters either side are white space or
punctuation (``a@b.org`` is no mention). Then PrettyText.add_mentions (lib/pretty_text.rb) looks
the lower-cased names up: a user who is not staged becomes ``<a class="mention"
href="/u/<lower-case username>">`` (the text stays as typed), a group the author may mention
``<a class="mention-group notify" href="/groups/<lower-case name>">``, any other group
``<a class="mention-group" …>``; an unknown name keeps the span. Both steps need the site
setting ``enable_mentions`` (default on).

What Discourse adds after saving (lightbox, oneboxes: lib/cooked_post_processor.rb, which needs
uploads and remote pages) a test sets with ``POST /__double__/post_process``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import quote

from .store import username_lower

_QUOTE_OPEN = re.compile(r"^\s*\[quote(?:=(?P<q>[\"']?)(?P<params>.*?)(?P=q))?\]\s*$", re.I)
_QUOTE_CLOSE = re.compile(r"^\s*\[/quote\]\s*$", re.I)
AVATAR = "/letter_avatar_proxy/v4/letter/{initial}/0088cc/48.png"


# mentions.js mentionRegex: ASCII word characters, or with the site setting unicode_usernames
# letters, marks and digits (Python's [^\W_] stands in for \p{Alphabetic}\p{Mark}\p{Decimal_Number}).
_MENTION_ASCII = re.compile(r"@(\w[\w.-]{0,58}[^\W_])|@(\w)", re.ASCII)
_MENTION_UNICODE = re.compile(r"@(\w[\w.-]{0,58}[^\W_])|@(\w)")
_MENTION_SPAN = re.compile(r'<span class="mention">@([^<]*)</span>')
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")
TEXT_CODE_CLASSES = ("text", "pre", "plain")
# Group::AUTO_GROUPS (app/models/group.rb): they exist on every site, mentionable by nobody by default
AUTO_GROUPS = ("everyone", "admins", "moderators", "staff", "trust_level_0", "trust_level_1", "trust_level_2",
               "trust_level_3", "trust_level_4")
# Group::ALIAS_LEVELS and Group.alias_levels (app/models/group.rb)
EVERYONE, ONLY_ADMINS, MODS_AND_ADMINS, MEMBERS_MODS_AND_ADMINS, OWNERS_MODS_AND_ADMINS = 99, 1, 2, 3, 4


def _boundary(ch: str) -> bool:
    # text-post-process.js allowedBoundary: markdown-it's isWhiteSpace or isPunctChar
    return ch in " \t\n\r\f\v\u00a0" or unicodedata.category(ch).startswith(("P", "Z"))


def _inline(text: str, opts: dict) -> str:
    """One paragraph's text: code spans as <code>, the rest escaped with mention spans."""
    out: list[str] = []
    pos = 0
    for m in _CODE_SPAN.finditer(text):
        out.append(_mention_spans(text[pos:m.start()], opts))
        code = m.group(2).replace("\n", " ")
        if code.startswith(" ") and code.endswith(" ") and code.strip(" "):  # CommonMark code spans
            code = code[1:-1]
        out.append(f"<code>{html.escape(code)}</code>")
        pos = m.end()
    out.append(_mention_spans(text[pos:], opts))
    return "".join(out)


def _mention_spans(text: str, opts: dict) -> str:
    if not opts.get("mentions"):
        return html.escape(text)
    matcher = _MENTION_UNICODE if opts.get("unicode_usernames") else _MENTION_ASCII
    out: list[str] = []
    pos = 0
    for m in matcher.finditer(text):
        start, end = m.span()
        if start > 0 and not _boundary(text[start - 1]):
            continue
        if end < len(text) and not _boundary(text[end]):
            continue
        out.append(html.escape(text[pos:start]))
        out.append(f'<span class="mention">{html.escape(m.group(0))}</span>')
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _paragraphs(text: str, opts: dict) -> list[str]:
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return [f"<p>{_inline(p, opts).replace(chr(10), '<br>' + chr(10))}</p>" for p in paras]


def _fence(info: str, body: str) -> str:
    tag = (info.split() or [""])[0]
    if not re.fullmatch(r"[\w+-]*", tag):
        tag = ""
    tag = tag or "auto"  # site setting default_code_lang
    cls = "lang-nohighlight" if tag in TEXT_CODE_CLASSES else f"lang-{html.escape(tag)}"
    return f'<pre><code class="{cls}">{html.escape(body)}</code></pre>'


def _quote(params: str, inner: str, opts: dict) -> str:
    # discourse-markdown-it quotes feature: the first item is the username, then key:value
    # pairs (post, topic, full); attributes only for what was given.
    username, attrs = "", {}
    for i, item in enumerate(p.strip() for p in (params or "").split(",")):
        if ":" in item:
            key, _, value = item.partition(":")
            if key.strip() in ("post", "topic") and value.strip().isdigit():
                attrs[f"data-{key.strip()}"] = value.strip()
        elif i == 0 and item:
            username = item
    data = (f' data-username="{html.escape(username)}"' if username else "") + "".join(
        f' {k}="{v}"' for k, v in attrs.items())
    title = ""
    if username:
        avatar = AVATAR.format(initial=html.escape(username[0].lower()))
        title = ('<div class="title">\n<div class="quote-controls"></div>\n'
                 f'<img loading="lazy" alt="" width="24" height="24" src="{avatar}" class="avatar"> '
                 f'{html.escape(username)}:</div>\n')
    body = _cook(inner, opts)
    return (f'<aside class="quote no-group"{data}>\n{title}<blockquote>\n{body}\n</blockquote>\n</aside>')


def cook(raw: str, store=None, author: dict | None = None) -> str:
    """PrettyText.cook: `store` gives the users and groups mentions are looked up in (none: every
    mention stays a span), `author` the user cooking (Post#cook passes the last editor), whose
    groups and staff rank decide which groups are mentionable."""
    enabled = store is not None and store.setting("enable_mentions") is not False
    opts = {"mentions": enabled, "unicode_usernames": bool(enabled and store.setting("unicode_usernames"))}
    cooked = _cook(raw, opts)
    return add_mentions(cooked, store, author) if enabled else cooked


def add_mentions(cooked: str, store, author: dict | None) -> str:
    """PrettyText.add_mentions: the spans of names that are found become links."""
    names = [m.group(1) for m in _MENTION_SPAN.finditer(cooked)]
    if not names:
        return cooked
    found = lookup_mentions(store, names, author)

    def link(m: re.Match) -> str:
        name = username_lower(html.unescape(m.group(1)))
        kind = found.get(name)
        if kind is None:
            return m.group(0)
        cls = {"user": "mention", "group-mentionable": "mention-group notify"}.get(kind, "mention-group")
        path = "/u/" if kind == "user" else "/groups/"
        return f'<a class="{cls}" href="{path}{quote(name, safe="-._~")}">@{m.group(1)}</a>'

    return _MENTION_SPAN.sub(link, cooked)


def lookup_mentions(store, names: list[str], author: dict | None) -> dict[str, str]:
    """PrettyText.lookup_mentions: lower-case name -> "user" (not staged), "group-mentionable"
    (Group.mentionable_sql_clause without public groups) or "group"; a user wins over a group."""
    wanted = {username_lower(n) for n in names}
    if author and author.get("admin"):
        levels = {EVERYONE, ONLY_ADMINS, MODS_AND_ADMINS, MEMBERS_MODS_AND_ADMINS, OWNERS_MODS_AND_ADMINS}
    elif author and author.get("moderator"):
        levels = {EVERYONE, MODS_AND_ADMINS, MEMBERS_MODS_AND_ADMINS, OWNERS_MODS_AND_ADMINS}
    else:
        levels = {EVERYONE}
    found: dict[str, str] = {n: "group" for n in AUTO_GROUPS if n in wanted}
    with store.lock:
        for g in store.data["groups"].values():
            low = username_lower(g["name"])
            if low not in wanted:
                continue
            level = g.get("mentionable_level") or 0
            member = bool(author) and author["id"] in g.get("user_ids", [])
            owner = bool(author) and author["id"] in g.get("owner_ids", [])
            mentionable = (level in levels or (level == MEMBERS_MODS_AND_ADMINS and member)
                           or (level == OWNERS_MODS_AND_ADMINS and owner))
            found[low] = "group-mentionable" if mentionable else "group"
        for u in store.data["users"].values():
            low = username_lower(u["username"])
            if low in wanted and not u.get("staged"):
                found[low] = "user"
    return found


def _cook(raw: str, opts: dict) -> str:
    lines = (raw or "").split("\n")
    out: list[str] = []
    text: list[str] = []
    i = 0
    while i < len(lines):
        fence = _FENCE_OPEN.match(lines[i])
        if fence:
            mark = fence.group("fence")
            j = i + 1
            while j < len(lines) and not re.match(rf"^ {{0,3}}{re.escape(mark[0])}{{{len(mark)},}}\s*$", lines[j]):
                j += 1
            # an unclosed fence runs to the end of the post (CommonMark)
            out.extend(_paragraphs("\n".join(text), opts))
            text = []
            body = "".join(line + "\n" for line in lines[i + 1:j])
            out.append(_fence(fence.group("info"), body))
            i = j + 1
            continue
        opened = _QUOTE_OPEN.match(lines[i])
        if not opened:
            text.append(lines[i])
            i += 1
            continue
        depth, j = 1, i + 1
        while j < len(lines):
            if _QUOTE_OPEN.match(lines[j]):
                depth += 1
            elif _QUOTE_CLOSE.match(lines[j]):
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if depth:  # never closed: Discourse leaves the text as it is
            text.append(lines[i])
            i += 1
            continue
        out.extend(_paragraphs("\n".join(text), opts))
        text = []
        out.append(_quote(opened.group("params"), "\n".join(lines[i + 1:j]), opts))
        i = j + 1
    out.extend(_paragraphs("\n".join(text), opts))
    return "\n".join(out)

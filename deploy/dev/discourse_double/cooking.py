"""The part of Discourse's Markdown cooking the double needs: paragraphs of escaped text with
line breaks, and [quote] blocks in the shape discourse-markdown-it cooks them.

Shapes, from Discourse's own tests (frontend/discourse/tests/unit/lib/pretty-text-test.js,
"Quotes"; the server adds the quoted member's avatar, lib/pretty_text.rb):

    [quote="bob, post:1, topic:2"]\\nmy quote\\n[/quote]
    -> <aside class="quote no-group" data-username="bob" data-post="1" data-topic="2">
       <div class="title"><div class="quote-controls"></div><img … class="avatar"> bob:</div>
       <blockquote><p>my quote</p></blockquote></aside>

What Discourse adds after saving (lightbox, oneboxes: lib/cooked_post_processor.rb, which needs
uploads and remote pages) a test sets with ``POST /__double__/post_process``.
"""

from __future__ import annotations

import html
import re

_QUOTE_OPEN = re.compile(r"^\s*\[quote(?:=(?P<q>[\"']?)(?P<params>.*?)(?P=q))?\]\s*$", re.I)
_QUOTE_CLOSE = re.compile(r"^\s*\[/quote\]\s*$", re.I)
AVATAR = "/letter_avatar_proxy/v4/letter/{initial}/0088cc/48.png"


def _paragraphs(text: str) -> list[str]:
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return [f"<p>{html.escape(p).replace(chr(10), '<br>' + chr(10))}</p>" for p in paras]


def _quote(params: str, inner: str) -> str:
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
    body = cook(inner)
    return (f'<aside class="quote no-group"{data}>\n{title}<blockquote>\n{body}\n</blockquote>\n</aside>')


def cook(raw: str) -> str:
    lines = (raw or "").split("\n")
    out: list[str] = []
    text: list[str] = []
    i = 0
    while i < len(lines):
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
        out.extend(_paragraphs("\n".join(text)))
        text = []
        out.append(_quote(opened.group("params"), "\n".join(lines[i + 1:j])))
        i = j + 1
    out.extend(_paragraphs("\n".join(text)))
    return "\n".join(out)

"""Subscription lists kept on a wiki, read the way MassMessage reads its delivery lists, and
the {{bots}}/{{nobots}} convention that lets a page's owner keep bots out. Pure: no I/O.

Why: members subscribe themselves by editing a page on the wiki they already use (as with
MassMessage delivery lists and Tech News), and a bot that delivers to talk pages must respect
the opt-out every Wikimedia bot respects. The input is whatever anyone typed into a wiki page,
so every function here takes hostile text (10,000 lines, unbalanced or nested braces, unclosed
comments, JSON of any shape) in time linear in its length and never raises, except
`parse_delivery_list` with a ValueError when JSON content is not a delivery list at all.

Formats (rules from the MassMessage extension, github.com/wikimedia/mediawiki-extensions-MassMessage):

* ``{{#target:Page}}`` / ``{{#target:Page|site}}``: the parser function (includes/MassMessageHooks.php
  ``storeDataParserFunction``, includes/Lookup/ParserFunctionSpamlistLookup.php parses the page and
  collects each call). Its data comes from ``MassMessage::processPFData`` (includes/MassMessage.php):
  first argument the page (a title ``Title::newFromText`` accepts, otherwise the call is
  skipped), second the site, trimmed; an empty site is this wiki. The site is a host name
  (includes/UrlHelper.php ``getBaseUrl``: the host of the wiki's URL), e.g. ``meta.wikimedia.org``.
  The function's name is case-insensitive (a magic word); the page is parsed, so calls inside
  comments, ``<nowiki>`` or ``<pre>`` do not count, and a call whose arguments hold templates
  we cannot expand here is skipped (a call nested in it is still read, as the parser would).
* The older forms this relay has read since before: ``{{target|page=...|site=...}}`` and
  plain links to talk pages, ``[[User talk:X]]`` (outside any template).
* JSON, the ``MassMessageListContent`` content model (includes/Content/MassMessageListContent.php):
  ``{"description": "...", "targets": [{"title": "...", "site": "..."}, ...]}``; a target
  without ``site`` is on this wiki. Also read from a page of core's ``json`` model holding
  that shape. MassMessage refuses to save a list with a malformed target; a ``json`` page may
  hold anything, so here a malformed target (not an object, no string title, an invalid
  title, a site that is not a string) is skipped and the rest is read.

Titles are normalised as MediaWiki's ``Title`` / ``MediaWikiTitleCodec`` does for the default
namespaces: underscores and runs of spaces become one space, a known namespace prefix is
written as its canonical name (``user_talk:`` -> ``User talk:``), the first letter after it is
upper case, a ``#fragment`` is dropped; characters a title may not hold (``[]{}|<>``, control
characters), an empty title or more than 255 bytes make it invalid. A wiki's own project
namespace (``Wikipedia talk:``) is not known here and keeps its page part as typed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

__all__ = ["JSON_MODELS", "WIKITEXT_MODEL", "Target", "bots_allow", "normalize_title", "parse_delivery_list",
           "parse_json_list", "parse_wikitext_list", "strip_unparsed"]

WIKITEXT_MODEL = "wikitext"
# MassMessage's own content model, and core's JSON (includes/content/JsonContentHandler.php).
JSON_MODELS = frozenset({"MassMessageListContent", "json"})

TITLE_MAX_BYTES = 255  # MediaWiki's Title: page_title is varbinary(255)
SITE_MAX_CHARS = 253  # a DNS name


@dataclass(frozen=True)
class Target:
    """A page to deliver to; `site` is the wiki's host name, None for the wiki the list is on."""

    title: str
    site: str | None = None


# -- titles -----------------------------------------------------------------------------------

# MediaWiki's default namespaces (includes/Defines.php, languages/messages/MessagesEn.php) and
# core's aliases (Image -> File), lower case with single spaces -> canonical name.
_NAMESPACES = {name.lower(): name for name in (
    "Media", "Special", "Talk", "User", "User talk", "Project", "Project talk", "File", "File talk",
    "MediaWiki", "MediaWiki talk", "Template", "Template talk", "Help", "Help talk", "Category",
    "Category talk")}
_NAMESPACES.update({"image": "File", "image talk": "File talk"})

# Title::getTitleInvalidRegex (includes/title/MediaWikiTitleCodec.php): characters outside
# $wgLegalTitleChars, character references and percent escapes are not titles.
_ILLEGAL = re.compile(r"[\[\]{}|<>\x00-\x1f\x7f\ufffd]|&[A-Za-z0-9#\x80-\uffff]+;|%[0-9A-Fa-f]{2}")
_SPACES = re.compile(r"[ _\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


def _ucfirst(text: str) -> str:
    if not text:
        return text
    first = text[0].upper()
    # Python upper-cases a few letters to two (ß -> SS); MediaWiki keeps those as they are.
    return (first if len(first) == 1 else text[0]) + text[1:]


def normalize_title(raw: Any) -> str | None:
    """`raw` as MediaWiki would write the title, or None when it is not a valid title."""
    if not isinstance(raw, str) or len(raw) > 4 * TITLE_MAX_BYTES + 64:
        return None
    text = raw.partition("#")[0]
    text = _SPACES.sub(" ", text).strip()
    if text.startswith(":"):  # [[:User talk:X]]: a leading colon is not part of the title
        text = text[1:].strip()
    if not text or _ILLEGAL.search(text):
        return None
    prefix, colon, rest = text.partition(":")
    canonical = _NAMESPACES.get(prefix.strip().lower()) if colon else None
    if canonical is not None:
        rest = rest.strip()
        if not rest:
            return None
        title = f"{canonical}:{_ucfirst(rest)}"
    else:
        title = _ucfirst(text)
    if title in (".", "..") or title.startswith(("./", "../")) or "/./" in title or "/../" in title \
            or title.endswith(("/.", "/..")) or "~~~" in title:
        return None
    if len(title.encode("utf-8", "surrogatepass")) > TITLE_MAX_BYTES:
        return None
    return title


def _normalize_site(raw: Any) -> str | None | bool:
    """A site as written in a list: None (this wiki), its host name, or False (not a site)."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        return False
    site = raw.strip().lower()
    if not site:
        return None
    if len(site) > SITE_MAX_CHARS or not re.fullmatch(r"[a-z0-9.\-:\[\]\u00a1-\uffff]+", site):
        return False
    return site


def _target(title: Any, site: Any) -> Target | None:
    t = normalize_title(title)
    s = _normalize_site(site)
    if t is None or s is False:
        return None
    return Target(t, s)  # type: ignore[arg-type]


def _unique(targets: Iterable[Target]) -> list[Target]:
    seen: set[Target] = set()
    out = []
    for t in targets:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


# -- wikitext -----------------------------------------------------------------------------------

# Extension tags whose content the parser does not read as wikitext, and includeonly (not
# part of the page itself when it is parsed).
_STRIP_TAGS = ("nowiki", "pre", "syntaxhighlight", "source", "math", "includeonly", "ref", "templatedata")
_OPEN_TAG = re.compile(r"<(" + "|".join(_STRIP_TAGS) + r")(?=[\s/>])[^<>]{0,1000}?(/?)>", re.I)


def strip_unparsed(text: str) -> str:
    """`text` without what MediaWiki's parser does not read as wikitext: comments (an
    unclosed one runs to the end, as in the preprocessor) and the content of <nowiki>, <pre>
    and like tags (an unclosed tag is plain text). Linear in len(text)."""
    if not isinstance(text, str):
        return ""
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("<!--", pos)
        if start < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:start])
        end = text.find("-->", start + 4)
        if end < 0:
            break
        pos = end + 3
    text = "".join(out)

    out = []
    pos = 0
    unclosed_from: dict[str, int] = {}  # a tag with no closing tag after this position
    closers: dict[str, re.Pattern[str]] = {}
    for m in _OPEN_TAG.finditer(text):
        if m.start() < pos:
            continue
        name = m.group(1).lower()
        if m.group(2):  # <nowiki/>
            out.append(text[pos:m.start()])
            pos = m.end()
            continue
        if unclosed_from.get(name, len(text) + 1) <= m.end():
            continue
        closer = closers.setdefault(name, re.compile(r"</" + name + r"\s*>", re.I))
        c = closer.search(text, m.end())
        if c is None:
            unclosed_from[name] = m.end()
            continue
        out.append(text[pos:m.start()])
        pos = c.end()
    out.append(text[pos:])
    return "".join(out)


_TOKENS = re.compile(r"\{\{|\}\}|\[\[|\]\]|\|")
_PF_NAME = re.compile(r"\s*#target\s*:", re.I)  # {{#target:...}}; the name is a magic word, any case
_TPL_NAME = re.compile(r"\s*(?:template\s*:\s*)?[tT]arget\s*$", re.I)
_TALK_LINK = re.compile(r"\[\[([^\[\]{}|#<>\n]{1,600})(?:#[^\[\]{}|\n]{0,600})?(?:\|[^\[\]\n]*)?\]\]")
_TALK_NS = re.compile(r"(?i)\s*:?\s*(?:[^:]*[ _])?talk\s*:")
MAX_ARGUMENT_CHARS = 2048  # a title is at most 255 bytes: a longer call is not a target


class _Frame:
    __slots__ = ("kind", "start", "pipes", "nested")

    def __init__(self, kind: str, start: int):
        self.kind = kind  # "{" or "["
        self.start = start  # position after the opening brackets
        self.pipes: list[int] = []
        self.nested = False


def _calls(text: str) -> tuple[list[tuple[int, str, list[str]]], list[tuple[int, int]]]:
    """Every closed {{...}} without nested templates: (position, name part, arguments), and
    the spans of the outermost templates. One pass over the brackets, linear in len(text)."""
    calls: list[tuple[int, str, list[str]]] = []
    spans: list[tuple[int, int]] = []
    stack: list[_Frame] = []  # open {{ and [[, innermost last
    braces: list[_Frame] = []  # the open {{ alone
    for m in _TOKENS.finditer(text):
        tok = m.group(0)
        if tok == "{{":
            if braces:
                braces[-1].nested = True  # its own ancestors were marked when it opened
            frame = _Frame("{", m.end())
            stack.append(frame)
            braces.append(frame)
        elif tok == "[[":
            stack.append(_Frame("[", m.end()))
        elif tok == "|":
            if stack:
                stack[-1].pipes.append(m.start())
        elif tok == "]]":
            if stack and stack[-1].kind == "[":
                stack.pop()
        else:  # }}
            if not braces:
                continue
            while stack[-1].kind == "[":
                stack.pop()  # an unclosed [[ inside a template ends with it
            f = stack.pop()
            braces.pop()
            if not braces:
                spans.append((f.start - 2, m.end()))
            if f.nested or m.start() - f.start > MAX_ARGUMENT_CHARS:
                continue
            bounds = [f.start, *[p + 1 for p in f.pipes]]
            ends = [*f.pipes, m.start()]
            parts = [text[a:b] for a, b in zip(bounds, ends)]
            calls.append((f.start, parts[0], parts[1:]))
    return calls, spans


def parse_wikitext_list(text: str) -> list[Target]:
    """Targets of a wikitext delivery list, in the order they appear, each once."""
    if not isinstance(text, str):
        return []
    text = strip_unparsed(text)
    calls, spans = _calls(text)
    found: list[tuple[int, Target]] = []
    for pos, name, args in calls:
        pf = _PF_NAME.match(name)
        if pf is not None:
            # {{#target:page|site}}: the page is the rest of the name part (the parser splits
            # the first argument at the colon), further arguments after the site are ignored.
            page = name[pf.end():]
            site = args[0] if args else ""
            if "{" in page or "}" in page or "{" in site or "}" in site:
                continue
            t = _target(page.strip(), site)
        elif _TPL_NAME.match(name):
            params: dict[str, str] = {}
            for a in args:
                key, eq, value = a.partition("=")
                if eq:
                    params[key.strip().lower()] = value.strip()
            t = _target(params.get("page"), params.get("site"))
        else:
            continue
        if t is not None:
            found.append((pos, t))
    # Links to talk pages outside any template: [[User talk:X]], [[User talk:X|label]].
    if "[[" in text:
        pieces, pos = [], 0
        for a, b in spans:
            pieces += [text[pos:a], " " * (b - a)]
            pos = b
        outside = "".join([*pieces, text[pos:]])
        for m in _TALK_LINK.finditer(outside):
            if _TALK_NS.match(m.group(1)):
                t = _target(m.group(1), None)
                if t is not None:
                    found.append((m.start(), t))
    found.sort(key=lambda p: p[0])
    return _unique(t for _, t in found)


# -- JSON ----------------------------------------------------------------------------------------

MAX_JSON_CHARS = 20_000_000


def parse_json_list(text: str) -> list[Target]:
    """Targets of a JSON delivery list (MassMessageListContent's shape), in order, each once.

    ValueError when the text is not JSON, or is JSON without a list of targets."""
    if not isinstance(text, str):
        raise ValueError("a delivery list is text")
    if len(text) > MAX_JSON_CHARS:
        raise ValueError(f"delivery list too large ({len(text)} characters)")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"delivery list is not JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ValueError("delivery list is not a JSON object")
    targets = data.get("targets")
    if not isinstance(targets, list):
        raise ValueError("delivery list has no \"targets\" list")
    found = []
    for entry in targets:
        if isinstance(entry, dict):
            t = _target(entry.get("title"), entry.get("site"))
            if t is not None:
                found.append(t)
    return _unique(found)


def parse_delivery_list(text: str, content_model: str | None = WIKITEXT_MODEL) -> list[Target]:
    """Targets of a list page of `content_model` (wikitext, MassMessageListContent or json).

    Other models (CSS, JavaScript, ...) hold no targets. ValueError: see parse_json_list."""
    if content_model in JSON_MODELS:
        return parse_json_list(text)
    if content_model in (None, WIKITEXT_MODEL):
        return parse_wikitext_list(text)
    return []


# -- {{bots}} / {{nobots}} ------------------------------------------------------------------------

_BOTS_NAME = re.compile(r"\s*(?:template\s*:\s*)?(no)?bots\s*$", re.I)


def _names(value: str) -> set[str]:
    names = set()
    for raw in value.split(","):
        name = _SPACES.sub(" ", raw).strip().lower()
        if name.startswith("user:"):
            name = name[5:].strip()
        if name:
            names.add(name)
    return names


def bots_allow(text: str, bot: str, message_type: str | None = None) -> bool:
    """Whether the bot named `bot` may edit a page holding `text`, per
    https://en.wikipedia.org/wiki/Template:Bots:

    * ``{{nobots}}``: no bot (``{{nobots|allow=X}}`` still lets X in);
    * ``{{bots|deny=all}}``, ``{{bots|allow=none}}``: no bot;
    * ``{{bots|deny=A,B}}``: not A nor B; ``{{bots|allow=A,B}}``: only A and B;
    * ``{{bots|optout=all}}`` (or naming `message_type`): no message deliveries;
    * ``{{bots}}``, ``{{bots|deny=none}}``, ``{{bots|allow=all}}``: any bot.

    Names are compared without case, ``_`` as space. Several such templates on a page: any
    one that keeps the bot out does. Templates inside comments or <nowiki> do not count."""
    if not isinstance(text, str) or ("bots" not in text.lower()):
        return True
    me = _SPACES.sub(" ", str(bot)).strip().lower()
    text = strip_unparsed(text)
    calls, _ = _calls(text)
    for _, name, args in calls:
        m = _BOTS_NAME.match(name)
        if m is None:
            continue
        nobots = m.group(1) is not None
        allow: set[str] | None = None
        deny: set[str] = set()
        optout: set[str] = set()
        for a in args:
            key, eq, value = a.partition("=")
            if not eq:
                continue
            key = key.strip().lower()
            if key == "allow":
                allow = (allow or set()) | _names(value)
            elif key == "deny":
                deny |= _names(value)
            elif key == "optout":
                optout |= _names(value)
        if allow is not None:
            if "none" in allow and not (allow - {"none"}):
                return False
            if not ({"all", me} & allow):
                return False
        elif nobots:
            return False
        if (deny - {"none"}) and ({"all", me} & deny):
            return False
        if "all" in optout or (message_type and message_type.lower() in optout):
            return False
    return True

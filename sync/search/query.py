"""The member's query language, parsed without I/O into a `Query` the engines turn into SQL.

Free words, "quoted phrases" and -excluded words, and the filters members know from
Discourse's search box (tags:a,b  #category  @author  after:  before:  in:  order:, see
Discourse's lib/search.rb, `advanced_filter` and `process_advanced_search!`), plus lang:xx and
in:blog / in:forum for the two sources. The same filters come as form fields (`parse(q, **fields)`).

Nothing a member types is an error: a filter this parser does not know, or a value it cannot
read, becomes a `Hint` shown beside the results and is otherwise ignored. The parser never
builds engine syntax: terms stay plain strings and each engine quotes them itself.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from dataclasses import dataclass, field, replace

from sync.search.text import has_word

ORDERS = ("relevance", "latest", "views")
SOURCES = ("blog", "forum")
FILTERS = ("tags", "tag", "category", "author", "after", "before", "in", "lang", "order")
MAX_TAGS = 10
MAX_TERMS = 32  # more terms than this only slow the engine down; the rest is ignored (with a hint)
_LANG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
_KEY = re.compile(r"^([A-Za-z]+):(.*)$", re.S)


@dataclass(frozen=True)
class Hint:
    """A message for the member: `code` for translations, `text` in English."""

    code: str
    text: str


@dataclass(frozen=True)
class Query:
    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    all_tags: bool = False          # tags:a+b (every tag) rather than tags:a,b (any of them)
    category: str | None = None
    author: str | None = None
    after: dt.date | None = None     # created on or after this day
    before: dt.date | None = None    # created before this day
    source: str | None = None
    language: str | None = None
    order: str = "relevance"
    hints: tuple[Hint, ...] = field(default=())

    @property
    def terms(self) -> tuple[str, ...]:
        """The text that must match: words and phrases."""
        return self.words + self.phrases


def key(value: str) -> str:
    """How categories, tags and authors are compared: folded case, runs of spaces, '_' and '-' as
    one '-', no control characters or lone surrogates (neither database driver takes them)."""
    value = "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cs"))
    return re.sub(r"[\s_-]+", "-", value.strip().casefold()).strip("-")


def _tokens(text: str) -> list[tuple[str, str | None]]:
    """(prefix, quoted part or None) pairs; a quote opens a phrase up to the next quote or the end,
    and what stands right before it (-, tags:) is its prefix."""
    out: list[tuple[str, str | None]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] != '"':
            i += 1
        prefix = text[start:i]
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            # -"a phrase" and tags:"a b": the prefix and the quoted part are one token
            out.append((prefix, text[i + 1:end]))
            i = end + 1
        else:
            out.append((prefix, None))
    return out


class _Builder:
    def __init__(self) -> None:
        self.values: dict = {}
        self.words: list[str] = []
        self.phrases: list[str] = []
        self.excluded: list[str] = []
        self.tags: list[str] = []
        self.hints: list[Hint] = []

    def hint(self, code: str, text: str) -> None:
        if all(h.code != code or h.text != text for h in self.hints):
            self.hints.append(Hint(code, text))

    def filter(self, name: str, value: str) -> None:
        """Apply filter `name`; a value that cannot be read is a hint, never an exception."""
        value = value.strip()
        if not value:
            self.hint("empty-filter", f"'{name}:' needs a value; it was ignored")
        elif name in ("tags", "tag"):
            all_tags = "+" in value and "," not in value
            found = [key(t) for t in re.split(r"[,+]", value) if key(t)]
            self.tags.extend(t for t in found if t not in self.tags)
            if len(self.tags) > MAX_TAGS:
                self.hint("too-many-tags", f"only the first {MAX_TAGS} tags were searched")
                del self.tags[MAX_TAGS:]
            self.values["all_tags"] = all_tags
        elif name == "category":
            self.values["category"] = key(value.lstrip("#")) or None
        elif name == "author":
            self.values["author"] = key(value.lstrip("@")) or None
        elif name in ("after", "before"):
            try:
                self.values[name] = dt.date.fromisoformat(value)
            except ValueError:
                self.hint("bad-date", f"'{name}:{value}' is not a date like {name}:2026-01-31; it was ignored")
        elif name == "in":
            if value.lower() in SOURCES:
                self.values["source"] = value.lower()
            else:
                self.hint("bad-in", f"'in:{value}' is not one of in:blog, in:forum; it was ignored")
        elif name == "lang":
            if _LANG.match(value.lower()):
                self.values["language"] = value.lower()
            else:
                self.hint("bad-lang", f"'lang:{value}' is not a language code like lang:ar; it was ignored")
        elif name == "order":
            if value.lower() in ORDERS:
                self.values["order"] = value.lower()
            else:
                self.hint("bad-order", f"'order:{value}' is not one of order:latest, order:views, "
                                       "order:relevance; it was ignored")

    def token(self, prefix: str, phrase: str | None) -> None:
        quoted = phrase is not None
        if quoted and prefix in ("", "-"):
            (self.excluded if prefix == "-" else self.phrases).append(phrase)
            return
        text = prefix + (phrase or "")
        if text.startswith("#") and len(text) > 1:
            self.filter("category", text[1:])
        elif text.startswith("@") and len(text) > 1:
            self.filter("author", text[1:])
        elif text.startswith("-") and len(text) > 1:
            self.excluded.append(text[1:])
        elif (match := _KEY.match(text)) and match.group(1).lower() in FILTERS:
            self.filter(match.group(1).lower(), match.group(2))
        else:
            if match and not match.group(2).startswith("/"):  # a filter mistyped, not a URL
                close = difflib.get_close_matches(match.group(1).lower(), [f for f in FILTERS if f != "tag"], n=1)
                self.hint("unknown-filter", f"'{match.group(1)}:' is not a filter"
                          + (f" (did you mean '{close[0]}:'?)" if close else "")
                          + "; it was searched as words")
            (self.phrases if quoted else self.words).append(text)


def parse(text: str | None, max_length: int = 500, **fields: str | None) -> Query:
    """The query typed in the box, with the form's fields (`tags`, `category`, `author`, `after`,
    `before`, `in_`/`source`, `lang`, `order`) applied after it, so a field wins over the box."""
    b = _Builder()
    text = text or ""
    if len(text) > max_length:
        b.hint("too-long", f"only the first {max_length} characters of the query were read")
        text = text[:max_length]
    for prefix, phrase in _tokens(text):
        b.token(prefix, phrase)
    for name, value in fields.items():
        if value is None or value == "":
            continue
        b.filter({"in_": "in", "source": "in", "language": "lang", "tag": "tags"}.get(name, name), str(value))
    budget = [MAX_TERMS]

    def kept(terms: list[str]) -> tuple[str, ...]:
        found = [t for t in terms if has_word(t)]
        taken, budget[0] = found[:budget[0]], max(0, budget[0] - len(found))
        if len(taken) < len(found):
            b.hint("too-many-terms", f"only the first {MAX_TERMS} words were searched")
        return tuple(taken)

    words, phrases, excluded = kept(b.words), kept(b.phrases), kept(b.excluded)
    query = Query(words=words, phrases=phrases, excluded=excluded, tags=tuple(b.tags),
                  hints=tuple(b.hints), **b.values)
    if query.after and query.before and query.after >= query.before:
        query = replace(query, hints=query.hints + (Hint("empty-range", "no date is both after "
                        f"{query.after} and before {query.before}"),))
    return query

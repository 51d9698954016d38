"""Each member's notification choices: what, by which channel, how often (table notify_preferences).

Storage only, shared by the settings page (sync/notify/web.py) and the planner that sends
notifications: the page writes with `save`, the planner reads with `wanting` and `get`, an
unsubscribe link calls `unsubscribe`. A member with no row has `defaults(sub)`: no event, channel
"none", so nothing reaches a member who chose nothing (issue 16).

Every value is validated here, whoever calls: `save` raises `InvalidPreference` (a ValueError)
naming the field, with a code and parameters the settings page turns into a localized message.
The lists for new posts hold keys as the search compares them (sync.search.query.key: folded
case, runs of spaces, '_' and '-' as one '-'), so "Community News" matches a forum category
"community-news"; languages are lower-case codes like "es" or "pt-br".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from bridge.store import reader, utcnow
from sync.notify import schema
from sync.notify.schema import CHANNELS, EVENTS, FREQUENCIES
from sync.search.query import key
from sync.search.settings import LANGUAGE_CODE

__all__ = ["EVENTS", "CHANNELS", "FREQUENCIES", "Preferences", "InvalidPreference", "defaults", "get", "save",
           "wanting", "unsubscribe", "parse_list", "check_wiki"]

MAX_ITEMS = 50  # categories, tags or languages a member may list
MAX_ITEM_LENGTH = 100  # characters of one category or tag (Discourse: 50 for a category name, 100 for a tag)
MAX_SUB_LENGTH = 64  # accounts.sub
#: what separates the items a member types: the comma, and the Arabic and ideographic ones
SEPARATORS = re.compile(r"[,\u060c\u3001\uff0c]")
#: a wiki's host as in a URL, with a port for local wikis: "meta.wikimedia.org", "127.0.0.1:8080"
WIKI_HOST = re.compile(r"(?=.{1,255}\Z)[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)*"
                       r"(?::[0-9]{1,5})?", re.ASCII)
_LANGUAGE = re.compile(LANGUAGE_CODE)
_LISTS = ("categories", "tags", "languages")


class InvalidPreference(ValueError):
    """A value that cannot be stored: `field` names it, `code` says why, `params` are the parts
    a message needs (the settings page shows `spacebridge-notify-error-<code>`)."""

    def __init__(self, field: str, code: str, *params):
        self.field, self.code, self.params = field, code, tuple(str(p) for p in params)
        detail = f" ({', '.join(self.params)})" if self.params else ""
        super().__init__(f"{field}: {code.replace('-', ' ')}{detail}")


@dataclass(frozen=True)
class Preferences:
    sub: str  # the member's Wikimedia `sub` (accounts.sub)
    events: frozenset[str]  # of EVENTS
    categories: frozenset[str]  # for new_posts: category keys; empty = any
    tags: frozenset[str]  # for new_posts: tag keys; empty = any
    languages: frozenset[str]  # for new_posts: language codes; empty = any
    channel: str  # of CHANNELS
    frequency: str  # of FREQUENCIES
    wiki: str | None  # the home wiki host for the talk page, e.g. "meta.wikimedia.org"
    updated_at: dt.datetime | None
    language: str | None = None  # of the member's messages: the settings page's when they saved


def defaults(sub) -> Preferences:
    """What a member who chose nothing has: no event, channel none."""
    return Preferences(sub=str(sub), events=frozenset(), categories=frozenset(), tags=frozenset(),
                       languages=frozenset(), channel="none", frequency="instant", wiki=None, updated_at=None)


def _item(field: str, raw: str) -> str | None:
    """One typed item as stored, or None for an empty one."""
    if field == "languages":
        code = raw.strip().lower().replace("_", "-")
        if not code:
            return None
        if not _LANGUAGE.match(code) or code != code.strip():
            raise InvalidPreference(field, "language", raw.strip()[:MAX_ITEM_LENGTH])
        return code
    value = key(raw)
    if not value:
        return None
    if len(value) > MAX_ITEM_LENGTH:
        raise InvalidPreference(field, "too-long", raw.strip()[:MAX_ITEM_LENGTH] + "…", MAX_ITEM_LENGTH)
    if "|" in value or SEPARATORS.search(value):
        raise InvalidPreference(field, "character", raw.strip()[:MAX_ITEM_LENGTH], "|")
    return value


def parse_list(field: str, text: str) -> frozenset[str]:
    """The keys (or language codes) of what a member typed in `field`, items separated by commas."""
    if field not in _LISTS:
        raise ValueError(f"no list field '{field}'")
    if not isinstance(text, str):
        raise InvalidPreference(field, "choice", "")
    items = [v for v in (_item(field, raw) for raw in SEPARATORS.split(text)) if v is not None]
    found = frozenset(items)
    if len(found) > MAX_ITEMS:
        raise InvalidPreference(field, "too-many", MAX_ITEMS)
    return found


def check_wiki(value: str | None) -> str | None:
    """A home wiki's host, lower case, or None for none; else InvalidPreference("wiki")."""
    if value is None:
        return None
    host = value.strip().lower()
    if not host:
        return None
    if not WIKI_HOST.fullmatch(host) or "." not in host.split(":")[0] and not host.startswith("localhost"):
        raise InvalidPreference("wiki", "wiki", value.strip()[:MAX_ITEM_LENGTH])
    return host


def _checked_set(field: str, values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidPreference(field, "choice", type(values).__name__)
    values = frozenset(values)
    for v in values:
        if not isinstance(v, str) or _item(field, v) != v:
            code = "character" if isinstance(v, str) else "choice"
            raise InvalidPreference(field, code, str(v)[:MAX_ITEM_LENGTH], "|")
    if len(values) > MAX_ITEMS:
        raise InvalidPreference(field, "too-many", MAX_ITEMS)
    return values


def validate(prefs: Preferences) -> Preferences:
    """`prefs` if every field can be stored as it is; else InvalidPreference naming the field."""
    if not isinstance(prefs.sub, str) or not prefs.sub.strip() or len(prefs.sub) > MAX_SUB_LENGTH:
        raise InvalidPreference("sub", "choice", str(prefs.sub)[:MAX_SUB_LENGTH])
    if isinstance(prefs.events, str) or not all(isinstance(e, str) and e in EVENTS for e in prefs.events):
        raise InvalidPreference("events", "choice", ", ".join(sorted(map(str, set(prefs.events) - set(EVENTS)))))
    for field in _LISTS:
        _checked_set(field, getattr(prefs, field))
    if prefs.channel not in CHANNELS:
        raise InvalidPreference("channel", "choice", str(prefs.channel)[:20])
    if prefs.frequency not in FREQUENCIES:
        raise InvalidPreference("frequency", "choice", str(prefs.frequency)[:20])
    if prefs.wiki is not None and (not isinstance(prefs.wiki, str) or check_wiki(prefs.wiki) != prefs.wiki):
        raise InvalidPreference("wiki", "wiki", str(prefs.wiki)[:MAX_ITEM_LENGTH])
    if prefs.language is not None and (not isinstance(prefs.language, str) or not _LANGUAGE.match(prefs.language)
                                       or len(prefs.language) > 20):
        raise InvalidPreference("language", "language", str(prefs.language)[:20])
    if prefs.channel == "talk" and not prefs.wiki:
        raise InvalidPreference("wiki", "wiki-missing")
    return prefs


def _encode(values: frozenset[str]) -> str:
    return "|" + "|".join(sorted(values)) + "|" if values else ""


def _decode(text: str | None) -> frozenset[str]:
    return frozenset(v for v in (text or "").split("|") if v)


def _row(prefs: Preferences, now: dt.datetime) -> dict:
    return {"sub": prefs.sub, **{schema.event_column(e): e in prefs.events for e in EVENTS},
            "categories": _encode(prefs.categories), "tags": _encode(prefs.tags),
            "languages": _encode(prefs.languages), "channel": prefs.channel, "frequency": prefs.frequency,
            "wiki": prefs.wiki, "updated_at": now, "language": prefs.language}


def _preferences(row) -> Preferences:
    m = row._mapping
    return Preferences(sub=m["sub"], events=frozenset(e for e in EVENTS if m[schema.event_column(e)]),
                       categories=_decode(m["categories"]), tags=_decode(m["tags"]),
                       languages=_decode(m["languages"]), channel=m["channel"], frequency=m["frequency"],
                       wiki=m["wiki"], updated_at=m["updated_at"], language=m["language"])


def get(conn_or_engine: sa.Engine | sa.Connection, sub) -> Preferences:
    """The member's stored choices, or `defaults(sub)`."""
    query = sa.select(schema.preferences).where(schema.preferences.c.sub == str(sub))
    if isinstance(conn_or_engine, sa.Connection):
        row = conn_or_engine.execute(query).first()
    else:
        with reader(conn_or_engine) as conn:
            row = conn.execute(query).first()
    return _preferences(row) if row is not None else defaults(sub)


def _upsert(conn: sa.Connection, values: dict) -> None:
    """Insert the row or replace every column of the member's row, in one statement."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(schema.preferences).values(**values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["sub"],
                                            set_={k: v for k, v in values.items() if k != "sub"}))


def save(engine: sa.Engine, prefs: Preferences) -> None:
    """Store the member's choices (all of them; `updated_at` becomes now), after `validate`."""
    validate(prefs)
    with engine.begin() as conn:
        _upsert(conn, _row(prefs, utcnow()))


def wanting(engine: sa.Engine, event: str) -> list[Preferences]:
    """Every member who chose `event` with a channel other than none, by `sub`."""
    if event not in EVENTS:
        raise ValueError(f"'{event}' is not one of {', '.join(EVENTS)}")
    column = schema.preferences.c[schema.event_column(event)]
    query = (sa.select(schema.preferences).where(column.is_(True), schema.preferences.c.channel != "none")
             .order_by(schema.preferences.c.sub))
    with reader(engine) as conn:
        return [_preferences(row) for row in conn.execute(query)]


def unsubscribe(engine: sa.Engine, sub, event: str | None = None) -> None:
    """Stop `event` for the member (None: everything, by setting the channel to none; the events
    chosen are kept, so choosing a channel again brings them back). Nothing to stop is no error."""
    if event is not None and event not in EVENTS:
        raise ValueError(f"'{event}' is not one of {', '.join(EVENTS)}")
    table = schema.preferences
    values = {"channel": "none"} if event is None else {schema.event_column(event): False}
    with engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.sub == str(sub)).values(**values, updated_at=utcnow()))

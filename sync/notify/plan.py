"""Who hears of a happening on the forum or the blogs, and why: the fan-out, planned without I/O.

The planner gets the happening (public only: the feed that builds it applies the relay's privacy
rules), the members who chose each kind of event (`preferences.wanting`), and the forum
usernames of the people a reply concerns already mapped to members by external id. It answers
one `Delivery` per member and happening, with the one reason that member chose that ranks first
(a mention before a reply to my post, before a reply to my topic, before the first reply to my
blog post), so a member mentioned in a reply to their own topic hears of it once. The key
`notify:<sub>:<happening id>` makes every later step idempotent: a retry, a restart or a second
delivery of the same web hook never plans a second copy for anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sync.notify.answers import Concerned
from sync.notify.preferences import Preferences

NEW_POSTS, REPLIES_TO_TOPICS, REPLIES_TO_POSTS, MENTIONS, FIRST_REPLY = (
    "new_posts", "replies_to_my_topics", "replies_to_my_posts", "mentions", "first_reply_to_my_blog_post")
#: A member concerned several ways hears of it once, for the first of these they chose.
RANK = (MENTIONS, REPLIES_TO_POSTS, REPLIES_TO_TOPICS, FIRST_REPLY)


@dataclass(frozen=True)
class Happening:
    id: str                          # stable: the same happening always has the same id
    kind: str                        # "new_post" | "reply"
    title: str
    url: str
    author_sub: str | None = None    # the member who wrote it, if one did (never told of it)
    author_name: str | None = None   # as the platform shows it (a forum username, a blog's author name)
    category: str | None = None      # key (sync.search.query.key)
    tags: frozenset[str] = frozenset()
    language: str | None = None
    excerpt: str = ""
    concerned: Concerned = field(default_factory=Concerned)
    mirrored: bool = False           # a topic the mirror made for a blog post


@dataclass(frozen=True)
class Delivery:
    sub: str
    happening_id: str
    reason: str
    channel: str
    frequency: str

    @property
    def key(self) -> str:
        return f"notify:{self.sub}:{self.happening_id}"[:255]


def wants_new_post(prefs: Preferences, h: Happening) -> bool:
    """The member's filters for new posts: each empty filter lets everything through."""
    if prefs.categories and (h.category or "") not in prefs.categories:
        return False
    if prefs.tags and not (prefs.tags & h.tags):
        return False
    if prefs.languages and (h.language or "") not in prefs.languages:
        return False
    return True


def reasons_for(h: Happening, members: Mapping[str, str]) -> dict[str, list[str]]:
    """sub -> the reasons a reply concerns them (unranked). `members`: forum username (lower
    case) -> sub, for the names the happening concerns that are members."""
    found: dict[str, list[str]] = {}
    c = h.concerned

    def add(name: str | None, reason: str) -> None:
        sub = members.get(name.lower()) if name else None
        if sub is not None and sub != h.author_sub:
            found.setdefault(sub, []).append(reason)

    for name in c.mentioned:
        add(name, MENTIONS)
    add(c.parent_author, REPLIES_TO_POSTS)
    add(c.topic_owner, REPLIES_TO_TOPICS)
    if c.first_reply and h.mirrored:
        add(c.topic_owner, FIRST_REPLY)
    return found


def plan(h: Happening, wanting: Mapping[str, Iterable[Preferences]], members: Mapping[str, str]) -> list[Delivery]:
    """One delivery per member who chose to hear of `h`, in sub order."""
    chosen: dict[str, Delivery] = {}
    if h.kind == "new_post":
        for prefs in wanting.get(NEW_POSTS, ()):
            if prefs.sub != h.author_sub and prefs.channel != "none" and wants_new_post(prefs, h):
                chosen[prefs.sub] = Delivery(prefs.sub, h.id, NEW_POSTS, prefs.channel, prefs.frequency)
    elif h.kind == "reply":
        concerned = reasons_for(h, members)
        by_sub: dict[str, Preferences] = {}
        for reason in RANK:
            for prefs in wanting.get(reason, ()):
                by_sub.setdefault(prefs.sub, prefs)
        for sub, reasons in concerned.items():
            prefs = by_sub.get(sub)
            if prefs is None or prefs.channel == "none":
                continue
            for reason in RANK:
                if reason in reasons and reason in prefs.events:
                    chosen[sub] = Delivery(sub, h.id, reason, prefs.channel, prefs.frequency)
                    break
    else:
        raise ValueError(f"unknown happening kind {h.kind!r}")
    return [chosen[s] for s in sorted(chosen)]

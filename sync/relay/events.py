"""One shape for everything the relay can announce, and pure mappings from platform payloads."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from sync import excerpt
from sync.relay import privacy
from sync.relay.privacy import CategoryIndex

POST_PUBLISHED = "post.published"
POST_UPDATED = "post.updated"
TOPIC_CREATED = "topic.created"
REPLY_CREATED = "reply.created"
FLAG_CREATED = "flag.created"
USER_SUSPENDED = "user.suspended"

EVENT_TYPES = (POST_PUBLISHED, POST_UPDATED, TOPIC_CREATED, REPLY_CREATED, FLAG_CREATED, USER_SUSPENDED)
# Event types that only ever reach targets marked private (moderators), whatever the rules say.
ALWAYS_PRIVATE = frozenset({FLAG_CREATED})


@dataclasses.dataclass(frozen=True)
class Event:
    id: str  # stable: the same happening always has the same id (idempotent delivery)
    type: str
    language: str = "en"
    category: str | None = None
    tags: tuple[str, ...] = ()
    site: str | None = None
    author: str | None = None
    url: str | None = None
    title: str | None = None
    excerpt: str | None = None
    occurred_at: dt.datetime | None = None
    private: bool = False
    # Forum events: the ids the delivery-time re-check and id-based rules need (the category
    # above is its name), and why the event is private (None: public, or a private event type).
    category_id: int | None = None
    topic_id: int | None = None
    private_reason: str | None = None

    def __post_init__(self):
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r} (known: {', '.join(EVENT_TYPES)})")
        if not self.id or len(self.id) > 200:
            raise ValueError("event id must be 1-200 characters")
        object.__setattr__(self, "tags", tuple(self.tags or ()))
        if self.type in ALWAYS_PRIVATE or self.private_reason:
            object.__setattr__(self, "private", True)
        if isinstance(self.occurred_at, str):
            object.__setattr__(self, "occurred_at", _parse_time(self.occurred_at))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["tags"] = list(self.tags)
        d["occurred_at"] = self.occurred_at.isoformat() if self.occurred_at else None
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Event":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown event field(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        if isinstance(values.get("occurred_at"), dt.datetime | dt.date) and not isinstance(values["occurred_at"], dt.datetime):
            values["occurred_at"] = dt.datetime.combine(values["occurred_at"], dt.time(), dt.timezone.utc)
        return cls(**values)


def _parse_time(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    text = str(value).replace("Z", "+00:00")
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def plain_excerpt(html: str | None, limit: int = 300) -> str | None:
    """Readable text of an HTML fragment (sync/excerpt.py: quotes, image metadata and spoilers
    left out), cut to `limit` characters at a word boundary."""
    return (excerpt.plain_text(html, limit=limit) or None) if html else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tag_names(tags: Any) -> tuple[str, ...]:
    out = []
    for tag in tags or ():
        name = tag.get("name") if isinstance(tag, Mapping) else tag
        if name:
            out.append(str(name))
    return tuple(out)


# -- Discourse web hooks ------------------------------------------------------------------
def from_discourse(event_name: str, payload: Mapping[str, Any], *, base_url: str = "",
                   categories: CategoryIndex | None = None, language: str = "en") -> Event | None:
    """The Event for one Discourse web hook (X-Discourse-Event and its JSON body), or None.

    Handled: topic_created, post_created (replies: post_number > 1), reviewable_created and
    flag_created (flags, always private), user_suspended. A topic or reply is private when
    sync/relay/privacy.py finds a reason (read-restricted or unknown category, unlisted topic,
    whisper, hidden post; `categories` None: the forum's categories could not be read).
    Private messages are never relayed, not even to private targets: only their participants
    may read them. `categories` also gives the category's name, which rules and messages use.
    """
    base = base_url.rstrip("/")

    def category(cid):
        name = categories.name(cid) if categories is not None else None
        return name or (str(cid) if cid is not None else None)

    if event_name == "topic_created":
        t = payload.get("topic") or {}
        if t.get("archetype") == privacy.PRIVATE_MESSAGE:
            return None
        author = (t.get("created_by") or {}).get("username") or (t.get("details") or {}).get("created_by", {}).get("username")
        return Event(id=f"discourse:topic:{t['id']}", type=TOPIC_CREATED, language=language,
                     category=category(t.get("category_id")), tags=_tag_names(t.get("tags")),
                     site="discourse", author=author,
                     url=f"{base}/t/{t.get('slug') or 'topic'}/{t['id']}" if base else None,
                     title=t.get("title") or t.get("fancy_title"),
                     excerpt=plain_excerpt(t.get("excerpt")), occurred_at=_parse_time(t.get("created_at")),
                     category_id=_int(t.get("category_id")), topic_id=_int(t.get("id")),
                     private_reason=privacy.topic_reason(t, categories))
    if event_name == "post_created":
        p = payload.get("post") or {}
        if (p.get("post_number") or 1) <= 1 or p.get("topic_archetype") == privacy.PRIVATE_MESSAGE:
            return None  # the first post is the topic (topic_created)
        if p.get("post_type") in (2, 3):
            return None  # moderator actions and small actions ("closed the topic") are not news
        return Event(id=f"discourse:post:{p['id']}", type=REPLY_CREATED, language=language,
                     category=category(p.get("category_id")), tags=_tag_names(p.get("topic_tags") or p.get("tags")),
                     site="discourse", author=p.get("username"),
                     url=f"{base}/t/{p.get('topic_slug') or 'topic'}/{p.get('topic_id')}/{p.get('post_number')}" if base else None,
                     title=p.get("topic_title"),
                     excerpt=plain_excerpt(p.get("cooked") or p.get("raw")),
                     occurred_at=_parse_time(p.get("created_at")),
                     category_id=_int(p.get("category_id")), topic_id=_int(p.get("topic_id")),
                     private_reason=privacy.post_reason(p, categories))
    if event_name in ("reviewable_created", "flag_created"):
        r = payload.get("reviewable") or payload.get("flag") or {}
        if event_name == "reviewable_created" and r.get("type") not in ("ReviewableFlaggedPost", "ReviewableQueuedPost", None):
            pass  # every reviewable is moderator business: still a flag event
        rid = r.get("id")
        target = r.get("target") or r.get("post") or {}
        topic_id = r.get("topic_id") or target.get("topic_id")
        return Event(id=f"discourse:{'reviewable' if 'reviewable' in payload else 'flag'}:{rid}",
                     type=FLAG_CREATED, language=language, category=category(r.get("category_id")),
                     category_id=_int(r.get("category_id")), topic_id=_int(topic_id), site="discourse",
                     author=(r.get("created_by") or {}).get("username") or r.get("created_by_username"),
                     url=(f"{base}/review/{rid}" if rid is not None else (f"{base}/t/{topic_id}" if topic_id else None)) if base else None,
                     title=r.get("topic_title") or (r.get("topic") or {}).get("title") or r.get("type"),
                     excerpt=plain_excerpt(r.get("payload", {}).get("raw") if isinstance(r.get("payload"), Mapping) else None)
                     or plain_excerpt(target.get("cooked") or target.get("raw")),
                     occurred_at=_parse_time(r.get("created_at")), private=True)
    if event_name == "user_suspended":
        u = payload.get("user") or {}
        till = u.get("suspended_till") or ""
        return Event(id=f"discourse:suspend:{u['id']}:{till}", type=USER_SUSPENDED, language=language,
                     site="discourse", author=u.get("username"),
                     url=f"{base}/u/{u.get('username')}" if base and u.get("username") else None,
                     title=u.get("username"), excerpt=u.get("suspend_reason"),
                     occurred_at=_parse_time(u.get("suspended_at")), private=True)
    return None


# -- mirrored WordPress posts -------------------------------------------------------------
def from_wordpress_post(site: str, post: Mapping[str, Any], *, updated: bool, language: str = "en",
                        topic_url: str | None = None) -> Event:
    """post.published / post.updated for a WordPress REST post (as the mirror read it).

    `post` is the REST API post (id, link, title.rendered, excerpt.rendered, date_gmt,
    modified_gmt, _embedded author/terms) or an already flattened dict (title, excerpt, author,
    categories, tags as names). The updated event id carries the modification time, so each
    edit is a new event while redelivery of the same edit is not.
    """
    def rendered(v):
        return v.get("rendered") if isinstance(v, Mapping) else v

    import html as html_mod

    title = html_mod.unescape(rendered(post.get("title")) or "") or None
    embedded = post.get("_embedded") or {}
    author = post.get("author_name")
    if not author and embedded.get("author"):
        author = (embedded["author"][0] or {}).get("name")
    if not author and isinstance(post.get("author"), str):
        author = post["author"]
    cats, tags = list(post.get("category_names") or []), list(post.get("tag_names") or [])
    for group in embedded.get("wp:term") or []:
        for term in group or []:
            (cats if term.get("taxonomy") == "category" else tags).append(term.get("name"))
    if not cats and post.get("categories") and all(isinstance(c, str) for c in post["categories"]):
        cats = list(post["categories"])
    if not tags and post.get("tags") and all(isinstance(c, str) for c in post["tags"]):
        tags = list(post["tags"])
    modified = post.get("modified_gmt") or post.get("modified")
    published = post.get("date_gmt") or post.get("date")
    pid = post["id"]
    event_id = f"wp:{site}:{pid}:updated:{modified}" if updated else f"wp:{site}:{pid}:published"
    return Event(id=event_id, type=POST_UPDATED if updated else POST_PUBLISHED,
                 language=post.get("lang") or language, category=cats[0] if cats else None,
                 tags=tuple(t for t in tags if t), site=site, author=author,
                 url=post.get("link") or topic_url, title=title,
                 excerpt=plain_excerpt(rendered(post.get("excerpt"))),
                 occurred_at=_parse_time(modified if updated else published))

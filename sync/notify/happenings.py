"""What a member may hear of, built from what the platforms serialise: pure, no I/O.

A `Happening` (sync/notify/plan.py) is made only of public content: the relay's privacy rules
(sync/relay/privacy.py) decide, as they do for the search index, because a notification lands on
a wiki talk page anyone can read. A member mentioned in a restricted category hears of it from
the forum itself, never from the bridge.

Ids are the relay's event ids (`wp:<site>:<post>:published`, `discourse:topic:<id>`,
`discourse:post:<id>`): the talk-page marker is made from the id (sync/relay/targets/wiki.py
`marker`), so a member who is on a wiki delivery list and also chose the talk page in their
settings gets the one section, whichever path writes first.

"New" means new: a post the mirror reads for the first time long after it was published (the
first run over an old blog, a reindex) is nobody's news, so a post or topic older than
`NEW_FOR` is no happening.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sync import excerpt as excerpts
from sync.notify.answers import Concerned, concerned
from sync.notify.plan import Happening
from sync.relay.privacy import CategoryIndex, post_state_reason, topic_reason
from sync.search.documents import blog_reason
from sync.search.query import key
from sync.webhooks import iso_time

NEW_FOR = dt.timedelta(days=2)
EXCERPT_CHARS = 300


def blog_id(site: str, post_id: int) -> str:
    return f"wp:{site}:{int(post_id)}:published"


def is_new(when: dt.datetime | None, now: dt.datetime) -> bool:
    return when is not None and now - when <= NEW_FOR


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1].rstrip() + "…"


def from_blog_post(site: str, post, *, language: str | None, now: dt.datetime) -> Happening | None:
    """A published, public blog post that is new; None otherwise. `post`: bridge.clients.wordpress.Post."""
    if post is None or blog_reason(post) is not None or not is_new(iso_time(post.published or post.modified), now):
        return None
    author = post.author.external_id if post.author else None
    return Happening(
        id=blog_id(site, post.id), kind="new_post", title=post.title or "", url=post.permalink or "",
        author_sub=str(author) if author else None, author_name=post.author.name if post.author else None,
        category=key(post.category_names[0]) if post.category_names else None,
        tags=frozenset(k for k in (key(t) for t in post.tag_names) if k),
        language=(post.language or language or None),
        excerpt=_short(excerpts.plain_text(post.excerpt or "", base=post.permalink or "")),
    )


def _topic_url(forum_url: str, topic: Mapping[str, Any], number: int = 1) -> str:
    base = f"{forum_url.rstrip('/')}/t/{topic.get('slug') or 'topic'}/{int(topic['id'])}"
    return base if number == 1 else f"{base}/{number}"


def _tags(topic: Mapping[str, Any]) -> frozenset[str]:
    names = (t if isinstance(t, str) else str(t.get("name") or "") for t in topic.get("tags") or ()
             if isinstance(t, (str, dict)))
    return frozenset(k for k in (key(n) for n in names) if k)


def _category(topic: Mapping[str, Any], categories: CategoryIndex | None) -> str | None:
    name = categories.name(topic.get("category_id")) if categories is not None else None
    return key(name) if name else None


def from_forum_topic(topic: Mapping[str, Any], first_post: Mapping[str, Any] | None, categories: CategoryIndex | None,
                     forum_url: str, *, now: dt.datetime, language: str | None = None) -> Happening | None:
    """A new public topic (GET /t/{id}.json) as a new post; None when it is private or old."""
    if topic_reason(topic, categories) is not None or not isinstance(topic.get("id"), int):
        return None
    if first_post is not None and post_state_reason(first_post) is not None:
        return None
    if not is_new(iso_time(topic.get("created_at")), now):
        return None
    owner = ((topic.get("details") or {}).get("created_by") or {}).get("username")
    cooked = (first_post or {}).get("cooked") or ""
    return Happening(
        id=f"discourse:topic:{int(topic['id'])}", kind="new_post", title=str(topic.get("title") or ""),
        url=_topic_url(forum_url, topic), author_name=owner if isinstance(owner, str) else None,
        category=_category(topic, categories), tags=_tags(topic),
        language=topic.get("locale") or language or None,
        excerpt=_short(excerpts.plain_text(cooked, base=forum_url)),
    )


def from_forum_reply(post: Mapping[str, Any], topic: Mapping[str, Any], posts: Iterable[Mapping[str, Any]],
                     categories: CategoryIndex | None, forum_url: str, *, mirrored: bool,
                     now: dt.datetime, language: str | None = None) -> Happening | None:
    """A public reply (GET /posts/{id}.json) in `topic` (GET /t/{id}.json) and who it concerns;
    None for a first post, a private topic, a whisper or hidden post, or an old one."""
    number = post.get("post_number")
    if not isinstance(number, int) or number < 2 or not isinstance(post.get("id"), int):
        return None
    if topic_reason(topic, categories) is not None or post_state_reason(post) is not None:
        return None
    if not is_new(iso_time(post.get("created_at")), now):
        return None
    return Happening(
        id=f"discourse:post:{int(post['id'])}", kind="reply", title=str(topic.get("title") or ""),
        url=_topic_url(forum_url, topic, number), author_name=post.get("username") or None,
        category=_category(topic, categories), tags=_tags(topic),
        language=topic.get("locale") or language or None,
        excerpt=_short(excerpts.plain_text(post.get("cooked") or "", base=forum_url)),
        concerned=concerned(post, topic, posts), mirrored=mirrored,
    )


# -- as stored in job payloads and digests -------------------------------------------------------------
def to_dict(h: Happening) -> dict[str, Any]:
    d = dataclasses.asdict(h)
    d["tags"] = sorted(h.tags)
    d["concerned"] = {**dataclasses.asdict(h.concerned), "mentioned": list(h.concerned.mentioned)}
    return d


def from_dict(data: Mapping[str, Any]) -> Happening:
    """The happening a payload holds; ValueError naming what is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError("happening: not an object")
    names = {f.name for f in dataclasses.fields(Happening)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"happening: unknown field(s) {', '.join(sorted(unknown))}")
    values = dict(data)
    values["tags"] = frozenset(values.get("tags") or ())
    c = values.get("concerned") or {}
    if not isinstance(c, Mapping):
        raise ValueError("happening: concerned is not an object")
    values["concerned"] = Concerned(topic_owner=c.get("topic_owner"), parent_author=c.get("parent_author"),
                                    mentioned=tuple(c.get("mentioned") or ()), first_reply=bool(c.get("first_reply")))
    try:
        return Happening(**values)
    except TypeError as exc:
        raise ValueError(f"happening: {exc}") from None

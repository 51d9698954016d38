"""Who a forum post concerns: pure, from what the forum serialises (no I/O).

A reply concerns the topic's owner (replies to my topics), the author of the post it answers
(replies to my posts: PostSerializer's `reply_to_post_number`, looked up among the topic's posts)
and the members it mentions, and, when it is a topic's first reply, the owner of a topic the
mirror made for a blog post (the first reply to my blog post). Mentions are read from the cooked
HTML as Discourse cooks them: `<a class="mention" href="/u/<username>">@<username></a>`
(discourse-markdown-it's mentions rule, app/assets/javascripts/pretty-text/…/mentions.js; group
mentions are `mention-group` and name no member). Names found here are forum usernames: a flow
maps them to members by DiscourseConnect external id (sso/members.py), never by the name alone.
The post's own author is never told of their own post.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from bs4 import BeautifulSoup

MAX_MENTIONS = 50  # Discourse's max_mentions_per_post default is 10; more are not ours to tell


@dataclass(frozen=True)
class Concerned:
    """Forum usernames (case as the forum gives them) and why each is concerned."""

    topic_owner: str | None = None
    parent_author: str | None = None
    mentioned: tuple[str, ...] = ()
    first_reply: bool = False


def mentions(cooked: str | None) -> tuple[str, ...]:
    """The members a post mentions, in order, once each (case-insensitively), at most MAX_MENTIONS."""
    if not cooked:
        return ()
    found: list[str] = []
    seen: set[str] = set()
    for a in BeautifulSoup(cooked, "html.parser").find_all("a", class_="mention"):
        href = a.get("href") or ""
        if not isinstance(href, str) or not href.startswith("/u/"):
            continue
        name = unquote(href[3:].split("/", 1)[0].split("?", 1)[0]).strip()
        if name and name.lower() not in seen:
            seen.add(name.lower())
            found.append(name)
            if len(found) >= MAX_MENTIONS:
                break
    return tuple(found)


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def reply_number(post: Mapping[str, Any]) -> int | None:
    """The number of the post `post` answers: an integer in web hooks and GET /posts/{id}.json,
    a string of digits where the topic's stream follows Discourse's API description."""
    number = post.get("reply_to_post_number")
    if isinstance(number, str) and number.isascii() and number.isdigit():
        number = int(number)
    return number if isinstance(number, int) and not isinstance(number, bool) and number > 0 else None


def concerned(post: Mapping[str, Any], topic: Mapping[str, Any], posts: Iterable[Mapping[str, Any]]) -> Concerned:
    """Who `post` concerns in `topic` (GET /t/{id}.json), given the topic's `posts` that are
    loaded (the parent is looked up among them by post_number)."""
    author = (_name(post.get("username")) or "").lower()
    by_number = {p.get("post_number"): p for p in posts if isinstance(p, Mapping)}
    first = by_number.get(1)
    owner = _name(((topic.get("details") or {}).get("created_by") or {}).get("username")) \
        or (_name(first.get("username")) if first else None)
    parent = None
    number = reply_number(post)
    if number is not None and number in by_number:
        parent = _name(by_number[number].get("username"))
    elif isinstance(post.get("reply_to_user"), Mapping):
        parent = _name(post["reply_to_user"].get("username"))

    def other(name: str | None) -> str | None:
        return name if name and name.lower() != author else None

    return Concerned(
        topic_owner=other(owner) if post.get("post_number") != 1 else None,
        parent_author=other(parent),
        mentioned=tuple(n for n in mentions(post.get("cooked")) if n.lower() != author),
        first_reply=post.get("post_number") == 2,
    )

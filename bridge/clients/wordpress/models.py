"""What the WordPress client returns, the same over both transports, and the helpers both
transports use to read a post's fields into it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["TAXONOMIES", "Author", "BridgeMeta", "Post", "author_external_id", "plain_title", "split_terms",
           "terms_sorted"]

#: The client's term kinds and the WordPress taxonomies they are.
TAXONOMIES = {"categories": "category", "tags": "post_tag"}


@dataclass(frozen=True)
class Author:
    """A post's author: WordPress user id and display name (None if the API hid it).

    ``external_id``: the Wikimedia account (DiscourseConnect ``external_id``, the member's
    ``sub``) linked to the author's WordPress account, as the mu-plugin computes it on the server
    from the author's user meta (REST field ``space_bridge_author_external_id``, XML-RPC
    ``space_bridge.author_external_id``); None when the author is not linked or the plugin does
    not say. Unlike the display name, no author can set it, so it is the only thing that may tie
    a post to a member.
    """

    id: int
    name: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class BridgeMeta:
    """The post meta the bridge owns; ``None`` means "not set".

    ``replies`` is any JSON value (stored as JSON text); ``synced_at`` is timezone-aware UTC.
    """

    topic_id: int | None = None
    topic_url: str | None = None
    reply_count: int | None = None
    replies: Any = None
    synced_at: datetime | None = None


@dataclass(frozen=True)
class Post:
    """A WordPress post as the bridge sees it, the same over both transports.

    * ``title``: plain text (WordPress's rendered title with HTML entities decoded);
    * ``content`` / ``excerpt``: rendered HTML, as the site would show them (blocks rendered,
      ``wpautop`` applied; the excerpt generated from the content if none was written);
    * ``categories`` / ``tags``: term slugs, sorted; ``category_names`` / ``tag_names``: the
      matching names in the same order;
    * ``modified``: last modification, timezone-aware UTC; ``published``: the post's date
      (``date_gmt`` / ``post_date_gmt``), timezone-aware UTC, None while WordPress has none (a
      draft never scheduled);
    * ``protected``: the post has a password (the REST API's ``content.protected``, XML-RPC's
      ``post_password``): its content is for those who know it, so it is never shown elsewhere;
    * ``language``: a language code if the site records one (a ``lang`` field, as Polylang
      exposes it, or a term of a ``language`` taxonomy), else None;
    * ``meta``: the bridge's own post meta.
    """

    id: int
    title: str
    content: str
    excerpt: str
    status: str
    categories: tuple[str, ...]
    category_names: tuple[str, ...]
    tags: tuple[str, ...]
    tag_names: tuple[str, ...]
    author: Author
    permalink: str
    modified: datetime
    language: str | None = None
    meta: BridgeMeta = field(default_factory=BridgeMeta)
    published: datetime | None = None
    protected: bool = False


def terms_sorted(terms: Iterable[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    pairs = sorted(set(terms))
    return tuple(slug for slug, _ in pairs), tuple(name for _, name in pairs)


_TAG_RE = re.compile(r"<[^>]+>")


def split_terms(terms: Iterable[Mapping[str, Any]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str | None]:
    """(slug, name) pairs of categories and tags, and the first `language` term's slug (Polylang's taxonomy)."""
    categories: list[tuple[str, str]] = []
    tags: list[tuple[str, str]] = []
    language = None
    for term in terms:
        pair = (term["slug"], term["name"])
        if term["taxonomy"] == "category":
            categories.append(pair)
        elif term["taxonomy"] == "post_tag":
            tags.append(pair)
        elif term["taxonomy"] == "language" and language is None:
            language = term["slug"]
    return categories, tags, language


def author_external_id(value: Any) -> str | None:
    """The mu-plugin's author external_id: a non-empty string of at most 64 characters
    (the bridge's `sub` column), anything else (null, "", a number) is no link."""
    if isinstance(value, str) and 0 < len(value) <= 64 and value.strip() == value:
        return value
    return None


def plain_title(rendered: str) -> str:
    return html.unescape(_TAG_RE.sub("", rendered)).strip()

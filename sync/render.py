"""A blog post as its forum topic: title, body, category and tags. Pure functions, no I/O.

The topic body is the post's excerpt (or its first `excerpt_words` words) converted from
WordPress's rendered HTML to Markdown (sync/excerpt.py: parsed, cut on the tree, then
markdownify), with shortcodes that were left unrendered removed, links and images made
absolute against the post's address, and a "Continue reading" link to the post. Discourse's
own rules (title length, tag length and count) are applied here so that a request is valid
before it is sent; the rules only the forum can check (a duplicate title)
are handled by the mirror when the forum refuses (see :func:`dedupe_title`).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field

from bridge.config import WordPressSite
from sync.settings import MirrorSettings
from bridge.clients.wordpress import Post
from sync import excerpt

# [shortcode attr="x"] ... [/shortcode] and lone [shortcode /]: left in the text only when the
# plugin that renders them is not active. Removed from the parsed HTML's text, before the
# conversion, so a Markdown link "[x](...)" is never touched.
_SHORTCODE = re.compile(r"\[(/?)([A-Za-z][\w-]*)(?:\s[^\]]*)?/?\]")
_WS = re.compile(r"[ \t]+")
# WordPress's generated excerpt ends with " [&hellip;]" (wp_trim_excerpt's excerpt_more).
_MORE = re.compile(r"\s*\[(?:…|\.\.\.)\]\s*$")


@dataclass(frozen=True)
class Rendered:
    """What the topic should look like."""

    title: str
    raw: str
    category: str | None
    tags: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    def fingerprint(self, listed: bool) -> str:
        data = json.dumps([self.title, self.raw, self.category, list(self.tags), listed], ensure_ascii=False)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()


def site_label(site: WordPressSite) -> str:
    """The site's name in titles and texts: its `title`, else its `name`."""
    return site.title or site.name


def external_id(site: str, post_id: int) -> str:
    """Discourse's topic external_id for a post: [\\w-]+, at most 50 characters, unique per site."""
    eid = f"wp-{site}-{int(post_id)}"
    if len(eid) > 50 or not re.fullmatch(r"[\w-]+", eid):
        eid = f"wp-{hashlib.sha256(site.encode()).hexdigest()[:12]}-{int(post_id)}"
    return eid


def category_for(post: Post, site: WordPressSite) -> str | None:
    """The Discourse category slug: the post's language first, then its first mapped
    WordPress category (by slug order), then the site's default (None: the forum's default)."""
    if post.language and post.language in site.languages:
        return site.languages[post.language]
    if post.language and post.language.split("-")[0] in site.languages:
        return site.languages[post.language.split("-")[0]]
    for slug in post.categories:
        if slug in site.categories:
            return site.categories[slug]
    return site.default_category


def clean_tag(name: str, max_length: int) -> str:
    """Discourse's DiscourseTagging.clean_tag, lowercased: no spaces or reserved punctuation."""
    tag = unicodedata.normalize("NFC", name).strip().lower()
    tag = re.sub(r"[\s]+", "-", tag)
    tag = re.sub(r"[/?#\[\]@!$&'()*+,;=.%\\`^|{}\"<>]+", "", tag)
    tag = re.sub(r"-{2,}", "-", tag).strip("-")
    return tag[:max_length].strip("-")


def tags_for(post: Post, settings: MirrorSettings) -> tuple[str, ...]:
    out: list[str] = []
    for slug in post.tags:
        tag = clean_tag(slug, settings.max_tag_length)
        if tag and tag not in out:
            out.append(tag)
    return tuple(out[: settings.max_tags])


def title_for(post: Post, site: WordPressSite, settings: MirrorSettings) -> tuple[str, list[str]]:
    """The topic title and the notes on what was changed to make Discourse accept it."""
    notes: list[str] = []
    title = _WS.sub(" ", post.title.replace("\n", " ")).strip()
    if not title:
        title = f"{site_label(site)} #{post.id}"
        notes.append("empty title: used the site name and post id")
    if len(title) < settings.title_min_length:
        padded = settings.title_padding.format(title=title, site=site_label(site))
        if len(padded) < settings.title_min_length:
            padded = f"{padded} #{post.id}"
        notes.append(f"title shorter than {settings.title_min_length}: padded to '{padded}'")
        title = padded
    if len(title) > settings.title_max_length:
        title = excerpt.cut_text(title, settings.title_max_length)
        notes.append(f"title longer than {settings.title_max_length}: cut at a word")
    return title, notes


def dedupe_title(title: str, post: Post, site: WordPressSite, settings: MirrorSettings) -> str:
    """The title with the configured distinguishing suffix (kept within the maximum length)."""
    suffix = settings.duplicate_title_suffix.format(site=site_label(site), post_id=post.id)
    room = settings.title_max_length - len(suffix)
    return excerpt.cut_text(title, room) + suffix


def unclear_title(title: str, post: Post, site: WordPressSite) -> str:
    """A title Discourse found unclear (too few distinct letters, all capitals): said in words."""
    return f"{title} – {site_label(site)} post {post.id}"


def _no_shortcodes(text: str) -> str:
    return _SHORTCODE.sub("", text)


def html_to_markdown(fragment: str, base_url: str, words: int | None = None) -> str:
    """WordPress HTML -> Markdown: shortcodes removed, links and images absolute against
    `base_url` (the post's address: a relative link resolves as on the post's page), cut at
    `words` words without leaving a link, image or code span half-written."""
    return excerpt.markdown(fragment, base=base_url, words=words, clean=_no_shortcodes)


def _text(fragment: str) -> str:
    text = _MORE.sub("", excerpt.plain_text(fragment, drop_quotes=False, clean=_no_shortcodes))
    return re.sub(r"\s+", "", text)


def _written_excerpt(post: Post) -> bool:
    """True for an excerpt the editor wrote; WordPress's generated one (the start of the
    content, tags stripped) is not used: the content's first words keep links and images."""
    excerpt = _text(post.excerpt)
    if not excerpt:
        return False
    return not _text(post.content).startswith(excerpt.rstrip("…").rstrip("."))


def body_for(post: Post, site: WordPressSite, settings: MirrorSettings) -> tuple[str, list[str]]:
    notes: list[str] = []
    source = post.excerpt if _written_excerpt(post) else post.content
    summary = html_to_markdown(source, post.permalink or site.url, settings.excerpt_words)
    link = f"[{settings.continue_reading}]({post.permalink})"
    if not re.sub(r"[\s!\[\]()]", "", summary):
        notes.append("post has no text (only a shortcode or an image): the body is the link")
        summary = ""
    raw = f"{summary}\n\n{link}" if summary else link
    # Discourse's min_first_post_length is 20 by default, and checks distinct characters.
    if len(re.sub(r"\s+", " ", raw)) < 40:
        raw = f"{raw}\n\n{post.title or site_label(site)} — {site.url}"
    return raw, notes


def render(post: Post, site: WordPressSite, settings: MirrorSettings) -> Rendered:
    title, title_notes = title_for(post, site, settings)
    raw, body_notes = body_for(post, site, settings)
    return Rendered(title=title, raw=raw, category=category_for(post, site), tags=tags_for(post, settings),
                    notes=tuple(title_notes + body_notes))


def reply_excerpt(cooked: str, limit: int, base_url: str = "") -> str:
    """What a blog reader sees of a forum reply: its own words (quotes, image metadata,
    spoilers, hidden details left out; oneboxes as their link), cut at a word."""
    return excerpt.plain_text(cooked, base=base_url, limit=limit)

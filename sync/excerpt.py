"""Excerpts of forum and blog HTML that read well. Pure functions, no I/O.

Two outputs from one reduction of the HTML tree (BeautifulSoup, never regular expressions on
markup, so a `>` in an attribute or an entity split by a cut cannot leak markup):

* :func:`plain_text` — what a reader sees of a forum reply under a blog post (escaped again by
  the mu-plugin) or of an event in a chat line: text only, cut at a word with an ellipsis;
* :func:`markdown` — a blog post as the start of its forum topic: Markdown made from a tree
  that was cut at N words *before* conversion, so every link, image, code span and list the cut
  leaves is whole.

What a reader should not get, and why, follows Discourse's own excerpts (lib/excerpt_parser.rb:
quotes and oneboxes are left out, emoji become their text, a details block shows its summary)
and its plugins' (plugins/spoiler-alert/plugin.rb removes spoilers from excerpts,
plugins/poll/spec/lib/pretty_text_spec.rb "can reduce excerpts"). The shapes handled are those
Discourse cooks; each reduction below names the Discourse file that makes the shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, urljoin, urlsplit

import emoji
import regex
from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from markdownify import MarkdownConverter

# Elements whose start and end separate words ("<p>a</p><p>b</p>" reads "a b", not "ab").
BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
    "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "ul",
})
# Never text a reader saw: scripts, players, icons, forms.
DROPPED = ("script", "style", "template", "noscript", "iframe", "object", "embed", "video", "audio",
           "svg", "canvas", "form", "input", "button", "select", "textarea", "head", "title", "meta", "link")
# Hidden spoiler text: language-neutral, so the blog needs no message per language.
SPOILER = "▒▒▒"
ELLIPSIS = "…"
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# WordPress's generated excerpt ends with " [&hellip;]" (wp_trim_excerpt's excerpt_more).
_MORE = re.compile(r"\s*\[(?:…|\.\.\.)\]\s*$")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\S+")


def parse(html: str | None) -> BeautifulSoup:
    return BeautifulSoup(html or "", "html.parser")


def absolute_url(url: str | None, base: str) -> str | None:
    """`url` made absolute against `base`, or None when it is empty, unparsable or not a web/mail
    link (javascript:, data:); characters that would end a Markdown link early are percent-encoded."""
    url = (url or "").strip()
    if not url:
        return None
    try:  # "http://[" (member-written HTML) makes urllib raise: such a link is left out, not fatal
        joined = urljoin(base.rstrip("/") + "/", url) if base else url
        scheme = urlsplit(joined).scheme.lower()
    except ValueError:
        return None
    if scheme and scheme not in SAFE_SCHEMES:
        return None
    return quote(joined, safe="/:?#[]@!$&'*+,;=%~-._")


def _classes(el: Tag) -> list[str]:
    return el.get("class") or []


def _has_class(el: Tag, *names: str) -> bool:
    return any(c in names for c in _classes(el))


def _link(soup: BeautifulSoup, href: str | None, text: str | None, base: str) -> Tag | str:
    url = absolute_url(href, base)
    if url is None:
        return text or ""
    a = soup.new_tag("a", href=url)
    a.string = text or url
    return a


def _each(soup: BeautifulSoup, selector: str):
    """Outermost first, re-selecting after each change: a reduced element's inner matches go
    with it instead of being reduced in a detached subtree."""
    while (el := soup.select_one(selector)) is not None:
        yield el


def _emoji_text(img: Tag) -> str:
    # Discourse cooks :code: as <img class="emoji" alt=":code:"> (pretty-text emoji feature);
    # the excerpt shows the character where the emoji library knows the name, else the code.
    code = (img.get("alt") or img.get("title") or "").strip()
    for language in ("alias", "en"):
        char = emoji.emojize(code, language=language)
        if char != code:
            return char
    return code


def reduce(soup: BeautifulSoup, base: str, *, drop_quotes: bool, keep_images: bool,
           clean: Callable[[str], str] | None = None) -> BeautifulSoup:
    """Rewrite a parsed fragment in place into what an excerpt should show; `clean` rewrites
    each piece of text (the blog's unrendered shortcodes)."""
    for node in soup.find_all(string=lambda s: isinstance(s, Comment)):
        node.extract()
    if clean is not None:
        for node in soup.find_all(string=True):
            if not isinstance(node, Comment):
                node.replace_with(clean(str(node)))
    for el in soup.find_all(DROPPED):
        el.decompose()
    for img in soup.select("img.emoji"):
        img.replace_with(_emoji_text(img))

    # Spoilers: plugins/spoiler-alert cooks div.spoiler / span.spoiler (the browser adds
    # .spoiled); Discourse's excerpts remove them. The marker keeps the sentence readable.
    # First, before the reductions below copy text out of polls, details summaries and quote
    # titles: a spoiler inside a poll option would otherwise be copied out in the clear.
    for el in soup.select(".spoiler, .spoiled"):
        el.clear()
        el.append(SPOILER)

    # Lightbox: lib/cooked_processor_mixin.rb add_lightbox! wraps an uploaded image in
    # div.lightbox-wrapper > a.lightbox > img + div.meta (filename, "1920×1080 245 KB", icons).
    for el in _each(soup, "div.lightbox-wrapper, a.lightbox"):
        img = el.find("img")
        el.replace_with(img.extract() if img else "")
    for el in soup.select("div.meta"):
        el.decompose()

    # Quotes: discourse-markdown-it's quotes feature cooks [quote="name, post:1, topic:2"] as
    # aside.quote[data-username] > div.title + blockquote. A link to another topic of the same
    # forum is oneboxed as aside.quote[data-topic] without a username whose title is a link
    # (lib/onebox/templates/discourse_topic_onebox.mustache): that one is a onebox.
    for el in _each(soup, "aside.quote"):
        title = el.select_one(".title a[href]")
        if title is not None and not el.get("data-username"):
            el.replace_with(_link(soup, title["href"], title.get_text(" ", strip=True), base))
        elif drop_quotes:
            el.decompose()
        else:
            el.replace_with(el.find("blockquote") or "")
    if drop_quotes:
        for el in _each(soup, "blockquote"):
            el.decompose()

    # Oneboxes: lib/onebox/templates/_layout.mustache, aside.onebox[data-onebox-src] with
    # header.source and article.onebox-body; YouTube's lazy-video-container keeps its link.
    # An unexpanded a.onebox is already a link whose text is its URL, and img.onebox an image.
    for el in _each(soup, "aside.onebox, div.onebox, .lazy-video-container"):
        src = el.get("data-onebox-src")
        if not src:
            first = el.select_one("header.source a[href], a[href]")
            src = first["href"] if first is not None else None
        el.replace_with(_link(soup, src, None, base) if src else "")

    # Polls: plugins/poll (spec/lib/pretty_text_spec.rb "can correctly cook polls"):
    # div.poll > div.poll-title?, div.poll-container > ol/ul > li, div.poll-info (vote counts).
    for el in _each(soup, "div.poll"):
        title = el.select_one(".poll-title")
        options = [li.get_text(" ", strip=True) for li in el.select(".poll-container li")]
        p = soup.new_tag("p")
        head = title.get_text(" ", strip=True) if title is not None else ""
        p.string = " ".join(x for x in (head, " / ".join(o for o in options if o)) if x)
        el.replace_with(p)

    # Details: plugins/discourse-details cooks [details=x] as details > summary + body. Only
    # the summary is visible until clicked; Discourse's e-mails show it the same way.
    for el in _each(soup, "details"):
        summary = el.find("summary")
        text = summary.get_text(" ", strip=True) if summary is not None and not _has_class(el, "elided") else ""
        p = soup.new_tag("p")
        p.string = f"{text} {ELLIPSIS}" if text else ""
        el.replace_with(p)

    # Hashtags: discourse-markdown-it's hashtag-autocomplete cooks #slug as a.hashtag-cooked
    # > span.hashtag-icon-placeholder + span(name); the "#" is only an icon.
    for el in soup.select("a.hashtag-cooked"):
        name = el.find_all("span")[-1].get_text(strip=True) if el.find_all("span") else el.get_text(strip=True)
        el.clear()
        el.append("#" + name.lstrip("#"))

    for img in soup.find_all("img"):
        src = absolute_url(img.get("src"), base)
        if not keep_images or src is None or _has_class(img, "avatar", "site-icon"):
            img.decompose()
            continue
        alt = _SPACE.sub(" ", img.get("alt") or "").strip()
        img.attrs = {"src": src, "alt": alt.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")}

    for a in soup.find_all("a"):
        raw = (a.get("href") or "").strip()
        url = absolute_url(raw, base)
        if not a.get_text(strip=True) and a.find("img") is None:
            a.decompose()  # an anchor, or a link whose image was left out: nothing to show
            continue
        if url is None:
            a.unwrap()
            continue
        if a.get_text(strip=True) == raw and not urlsplit(raw).scheme:
            a.clear()
            a.append(url)  # a bare relative link reads as the address it goes to
        a.attrs = {"href": url}
    return soup


def _text(soup: BeautifulSoup) -> str:
    for table in _each(soup, "table"):  # a table reads "a | b; c | d"
        rows = []
        for tr in table.find_all("tr"):
            cells = [c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])]
            if any(cells):
                rows.append(" | ".join(cells))
        p = soup.new_tag("p")
        p.string = "; ".join(rows)
        table.replace_with(p)
    for el in soup.find_all(BLOCKS):
        if el.name in ("br", "hr"):
            el.replace_with(" ")
        else:
            el.insert(0, " ")
            el.append(" ")
    return _SPACE.sub(" ", soup.get_text()).strip()


def cut_text(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a space (else between whole grapheme clusters:
    never between a letter and its marks, nor inside an emoji sequence), with an ellipsis when
    anything was cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(1, limit - 1)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    else:
        kept: list[str] = []
        size = 0
        for cluster in regex.findall(r"\X", text):
            if size + len(cluster) > limit - 1:
                break
            kept.append(cluster)
            size += len(cluster)
        cut = "".join(kept)
    return cut.rstrip(" ,;:-–—") + ELLIPSIS


def plain_text(html: str | None, *, base: str = "", limit: int | None = None, drop_quotes: bool = True,
               clean: Callable[[str], str] | None = None) -> str:
    """Readable text of cooked (or blog) HTML: quotes, image metadata, spoilers and hidden
    details left out, oneboxes as their link, emoji as characters; cut at `limit` characters."""
    text = _text(reduce(parse(html), base, drop_quotes=drop_quotes, keep_images=False, clean=clean))
    return cut_text(text, limit) if limit else text


def _cut_words(soup: BeautifulSoup, words: int) -> bool:
    """Keep the first `words` words of the tree's text, dropping everything after the cut;
    the ellipsis goes after the link or code the cut fell in. True if something was cut."""
    count, in_word = 0, False
    for node in list(soup.descendants):
        if isinstance(node, Tag):
            if node.name in BLOCKS:
                in_word = False
            continue
        if not isinstance(node, NavigableString) or node.parent is None:
            continue
        text = str(node)
        for match in _WORD.finditer(text):
            if match.start() == 0 and in_word:
                continue  # the same word, split by an inline element
            count += 1
            if count > words:
                _cut_here(soup, node, text[: match.start()])
                return True
        in_word = bool(text) and not text[-1].isspace()
    return False


def _cut_here(soup: BeautifulSoup, node: NavigableString, keep: str) -> None:
    el = node
    while el is not None and el is not soup:  # everything after the cut, at every level, goes
        for sibling in list(el.next_siblings):
            sibling.extract()
        el = el.parent
    kept = keep.rstrip(" ,;:-–—\n\t")
    parent = node.parent
    if kept:
        node.replace_with(kept)
    else:
        node.extract()
        while parent is not None and parent is not soup and not parent.get_text(strip=True) \
                and not parent.find("img"):
            up = parent.parent
            parent.extract()
            parent = up
    shown = [n for n in soup.descendants
             if (isinstance(n, NavigableString) and n.strip()) or (isinstance(n, Tag) and n.name == "img")]
    if not shown:
        soup.append(ELLIPSIS)
        return
    after = shown[-1]  # the mark follows the last thing kept
    if isinstance(after, NavigableString):
        trimmed = NavigableString(after.rstrip(" ,;:-–—\n\t"))
        if trimmed != after:
            after.replace_with(trimmed)
            after = trimmed
    for ancestor in after.parents:  # after the link, code span or emphasis the cut fell in
        if ancestor is soup:
            break
        if ancestor.name == "pre" or ancestor.name not in BLOCKS:
            after = ancestor
    after.insert_after(NavigableString(f" {ELLIPSIS}"))


def markdown(html: str | None, *, base: str, words: int | None = None,
             clean: Callable[[str], str] | None = None) -> str:
    """Markdown of blog HTML for a forum topic: links and images absolute against `base` (the
    post's URL), cut at `words` words on the tree, so the Markdown is never left half-written."""
    soup = reduce(parse(html), base, drop_quotes=False, keep_images=True, clean=clean)
    last = [s for s in soup.find_all(string=True) if s.strip()]
    if last and _MORE.search(str(last[-1])):
        last[-1].replace_with(_MORE.sub("", str(last[-1])))
    if words:
        _cut_words(soup, words)
    # escape_misc: a "[x](y)", "<b>" or "#" written as text in a post stays text on the forum
    md = MarkdownConverter(heading_style="ATX", bullets="-", escape_misc=True).convert_soup(soup)
    md = "\n".join(line.rstrip() for line in md.splitlines())
    return re.sub(r"\n{3,}", "\n\n", md).strip()

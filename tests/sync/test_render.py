"""sync/render.py: post -> topic title, body, category, tags (pure)."""

from __future__ import annotations

from datetime import datetime, timezone

from bridge.clients.wordpress import Author, Post
from bridge.config import WordPressSite
from sync.settings import MirrorSettings
from sync import render

SITE = WordPressSite(name="news", url="https://space.example.org", username="b", password="p" * 10,
                     webhook_secret="w" * 16, default_category="blog", categories={"events": "events"},
                     languages={"es": "noticias"}, title="Space news")
M = MirrorSettings()


def post(**kw) -> Post:
    base = dict(id=7, title="A title long enough to pass", content="<p>Body text of the post.</p>",
                excerpt="<p>Body text of the post.</p>", status="publish", categories=(), category_names=(),
                tags=(), tag_names=(), author=Author(1, "Ada"), permalink="https://space.example.org/a-title/",
                modified=datetime(2026, 1, 1, tzinfo=timezone.utc))
    base.update(kw)
    return Post(**base)


def test_external_id_fits_discourse():
    assert render.external_id("news", 12) == "wp-news-12"
    long = render.external_id("x" * 60, 123456789)
    assert len(long) <= 50 and long.endswith("-123456789")


def test_category_language_first_then_category_then_default():
    assert render.category_for(post(language="es", categories=("events",)), SITE) == "noticias"
    assert render.category_for(post(categories=("events", "misc")), SITE) == "events"
    assert render.category_for(post(categories=("misc",)), SITE) == "blog"


def test_tags_cleaned_and_capped():
    p = post(tags=("Wiki Loves", "a" * 30, "x", "y", "z", "w", "v"))
    tags = render.tags_for(p, M)
    assert tags[0] == "wiki-loves" and len(tags[1]) == 20 and len(tags) == 5


def test_short_title_padded_long_title_cut():
    title, notes = render.title_for(post(title="Hi!"), SITE, M)
    assert title == "Hi! · Space news" and notes
    title, notes = render.title_for(post(title="word " * 100), SITE, M)
    assert len(title) <= 255 and title.endswith("…") and notes
    assert render.dedupe_title("Same", post(), SITE, M) == "Same (Space news #7)"


def test_a_long_title_without_spaces_is_cut_between_whole_characters():
    import regex

    # a Devanagari conjunct with its vowel sign, and an emoji ZWJ sequence: one character each
    for word in ("क्षि", "👩🏽‍💻"):
        full = word * 80
        title, _ = render.title_for(post(title=full), SITE, M)
        kept = title.removesuffix("…")
        assert title.endswith("…") and len(title) <= 255 and full.startswith(kept)
        assert regex.findall(r"\X", kept) == [word] * (len(kept) // len(word))


def test_rtl_and_emoji_titles_kept():
    assert render.title_for(post(title="مرحبا بكم في مساحة ويكيميديا"), SITE, M)[0] == "مرحبا بكم في مساحة ويكيميديا"
    assert render.title_for(post(title="🎉🎉🎉"), SITE, M)[0].startswith("🎉🎉🎉 · Space news")


def test_body_markdown_absolute_links_shortcodes_stripped():
    p = post(content='<p>See <a href="/x/">this</a> [gallery ids="1,2"] and <img src="/i.png" alt="pic"></p>',
             excerpt="<p>See this and [&hellip;]</p>")
    raw, _ = render.body_for(p, SITE, M)
    assert "[this](https://space.example.org/x/)" in raw
    assert "![pic](https://space.example.org/i.png)" in raw
    assert "gallery" not in raw
    assert raw.endswith("[Continue reading](https://space.example.org/a-title/)")


def test_written_excerpt_preferred_and_cut_to_words():
    p = post(content="<p>" + "word " * 500 + "</p>", excerpt="<p>A summary the editor wrote.</p>")
    assert render.body_for(p, SITE, M)[0].startswith("A summary the editor wrote.")
    p = post(content="<p>" + "word " * 500 + "</p>", excerpt="<p>" + "word " * 55 + "[&hellip;]</p>")
    raw = render.body_for(p, SITE, M)[0]
    assert raw.count("word") == 80


def test_shortcode_only_body_still_long_enough():
    p = post(content="<p>[contact-form-7 id=\"3\"]</p>", excerpt="")
    raw, notes = render.body_for(p, SITE, M)
    assert "Continue reading" in raw and len(raw) >= 40 and notes


def test_fingerprint_changes_with_visibility_and_text():
    r = render.render(post(), SITE, M)
    assert r.fingerprint(True) != r.fingerprint(False)
    assert r.fingerprint(True) != render.render(post(title="Another long title here"), SITE, M).fingerprint(True)


def test_body_cut_at_words_leaves_links_and_code_whole():
    words = " ".join(f"w{i}" for i in range(78))
    p = post(content=f'<p>{words} <a href="/long/">a link of several words</a> and <code>x = 1</code> more</p>',
             excerpt="")
    raw = render.body_for(p, SITE, M)[0]
    summary = raw.split("\n\n")[0]
    assert summary.endswith("[a link](https://space.example.org/long/) …")
    assert "`" not in summary


def test_body_relative_links_resolve_as_on_the_post_page():
    p = post(content='<p>See <a href="part-two/">part two</a>, <a href="#notes">the notes</a> and '
                     '<a href="javascript:alert(1)">this</a> [1 x](javascript:y)</p>', excerpt="")
    raw = render.body_for(p, SITE, M)[0]
    assert "[part two](https://space.example.org/a-title/part-two/)" in raw
    assert "[the notes](https://space.example.org/a-title/#notes)" in raw
    assert "javascript:alert" not in raw and r"\[1 x\](javascript:y)" in raw  # text, not a link


def test_reply_excerpt_reads_as_the_reply_alone():
    cooked = ('<aside class="quote no-group" data-username="ada" data-post="1" data-topic="3"><div class="title">'
              ' ada:</div><blockquote><p>Quoted question?</p></blockquote></aside><p>My answer &amp; more.</p>')
    assert render.reply_excerpt(cooked, 300, "https://forum.example") == "My answer & more."
    assert render.reply_excerpt("<p>" + "word " * 100 + "</p>", 40).endswith("word…")

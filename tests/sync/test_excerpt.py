"""sync/excerpt.py: excerpts of real Discourse post shapes, and cuts that leave nothing broken.

Each fixture is cooked HTML in the shape Discourse produces; the comment names the Discourse
file (spec or template) the shape is taken from. The values (names, ids, URLs) are ours.
"""

from __future__ import annotations

import re

import regex
from bs4 import BeautifulSoup
from hypothesis import given, settings, strategies as st
from markdown_it import MarkdownIt

from sync import excerpt

FORUM = "https://forum.example.org"
BLOG_POST = "https://blog.example.org/2026/01/the-post/"

# frontend/discourse/tests/unit/lib/pretty-text-test.js "Quotes" (server side adds the avatar,
# as in posts served by any Discourse: img.avatar in div.title)
QUOTE = """<aside class="quote no-group" data-username="eviltrout" data-post="1" data-topic="2">
<div class="title">
<div class="quote-controls"></div>
<img loading="lazy" alt="" width="24" height="24" src="/user_avatar/forum.example.org/eviltrout/48/3_2.png" class="avatar"> eviltrout:</div>
<blockquote>
<p>The meetup moves to Thursday.</p>
</blockquote>
</aside>
<p>Thursday works for me, see you there.</p>"""

# spec/lib/cooked_post_processor_spec.rb "generates overlay information"
# (lib/cooked_processor_mixin.rb add_lightbox!)
LIGHTBOX = """<p>Here is the photo from the workshop:</p>
<p><div class="lightbox-wrapper"><a class="lightbox" href="/uploads/default/original/1X/5d0b9b077caf.png" data-download-href="/uploads/default/5d0b9b077caf" title="workshop.png"><img src="/uploads/default/optimized/1X/5d0b9b077caf_2_690x388.png" alt="workshop" width="690" height="388"><div class="meta"><svg class="fa d-icon d-icon-far-image svg-icon" aria-hidden="true"><use href="#far-image"></use></svg><span class="filename">workshop.png</span><span class="informations">1920×1080 245 KB</span><svg class="fa d-icon d-icon-discourse-expand svg-icon" aria-hidden="true"><use href="#discourse-expand"></use></svg></div></a></div></p>"""

# lib/onebox/templates/_layout.mustache around lib/onebox/templates/wikipedia.mustache
ONEBOX = """<p>Background reading:</p>
<aside class="onebox wikipedia" data-onebox-src="https://en.wikipedia.org/wiki/Wikimedia_movement">
  <header class="source">
      <img src="https://en.wikipedia.org/static/favicon/wikipedia.ico" class="site-icon" alt="">
      <a href="https://en.wikipedia.org/wiki/Wikimedia_movement" target="_blank" rel="noopener">en.wikipedia.org</a>
  </header>
  <article class="onebox-body">
    <img src="https://upload.wikimedia.org/logo.png" class="thumbnail">
<h3><a href="https://en.wikipedia.org/wiki/Wikimedia_movement" target="_blank" rel="noopener">Wikimedia movement</a></h3>
<p>The Wikimedia movement is the global community of contributors to the Wikimedia projects.</p>
  </article>
  <div class="onebox-metadata"></div>
  <div style="clear: both"></div>
</aside>"""

# lib/onebox/templates/discourse_topic_onebox.mustache: a link to a topic of the same forum
TOPIC_ONEBOX = """<aside class="quote" data-post="1" data-topic="12">
  <div class="title">
    <div class="quote-controls"></div>
    <img loading="lazy" alt="" width="24" height="24" src="/user_avatar/forum.example.org/ada/48/1_2.png" class="avatar">
    <a href="/t/translation-sprint/12">Translation sprint</a> </div>
  <blockquote>
    <p>We translate the interface into 40 languages this weekend.</p>
  </blockquote>
</aside>
<p>Related to the sprint above.</p>"""

# frontend/discourse/tests/unit/lib/pretty-text-test.js "Code Blocks" (class lang-*)
CODE = """<p>Run this:</p>
<pre><code class="lang-python">for page in site.allpages():
    print(page.name &lt; "M")
</code></pre>
<p>and <code>&lt;nowiki&gt;</code> works.</p>"""

# spec/lib/pretty_text_spec.rb mentions: a.mention with a relative /u/ link
MENTION = """<p>Thanks <a class="mention" href="/u/sam">@sam</a> and <a class="mention-group" href="/g/translators">@translators</a>!</p>"""

# plugins/poll/spec/lib/pretty_text_spec.rb "can correctly cook polls" (emoji in an option)
# and "supports the title attribute"
EMOJI = """<p>Great work <img src="/images/emoji/twitter/tada.png?v=12" title=":tada:" class="emoji" alt=":tada:" loading="lazy" width="20" height="20"> and <img src="/images/emoji/twitter/wikimedia_custom.png?v=12" title=":wikimedia_custom:" class="emoji emoji-custom" alt=":wikimedia_custom:" loading="lazy" width="20" height="20"></p>"""

POLL = """<p>Which day suits you?</p>
<div class="poll" data-poll-name="poll" data-poll-status="open" data-poll-type="regular">
<div class="poll-title">Pick a <em>day</em> <img src="/images/emoji/twitter/wink.png?v=12" title=":wink:" class="emoji" alt=":wink:" loading="lazy" width="20" height="20"></div>
<div class="poll-container">
<ul>
<li data-poll-option-id="b6475cbf6acb8676b20c60582cfc487a">Saturday</li>
<li data-poll-option-id="7158af352698eb1443d709818df097d4">Sunday</li>
</ul>
</div>
<div class="poll-info">
<div class="poll-info_counts">
<div class="poll-info_counts-count">
<span class="info-number">0</span>
<span class="info-label">voters</span>
</div>
</div>
</div>
</div>"""

# plugins/spoiler-alert/spec/pretty_text_spec.rb "can spoil blocks" and "can spoil inline"
SPOILER = """<p>The ending: <span class="spoiler">the archive survives</span> and more.</p>
<div class="spoiler">
<p>the whole plot</p>
</div>"""

# plugins/discourse-details/spec/components/pretty_text_spec.rb "supports details tag"
DETAILS = """<details>
<summary>
Meeting notes</summary>
<p>secret minutes nobody opened</p>
</details>
<p>See above.</p>"""

# frontend/discourse-markdown-it/src/features/table.js: div.md-table around the table
TABLE = """<div class="md-table">
<table>
<thead>
<tr>
<th>Language</th>
<th>Done</th>
</tr>
</thead>
<tbody>
<tr>
<td>Arabic</td>
<td>80%</td>
</tr>
<tr>
<td>Spanish</td>
<td>95%</td>
</tr>
</tbody>
</table>
</div>"""

# frontend/discourse-markdown-it/src/features/hashtag-autocomplete.js (a.hashtag-cooked)
HASHTAG = """<p>Posted in <a class="hashtag-cooked" href="/c/events/5" data-type="category" data-slug="events" data-id="5"><span class="hashtag-icon-placeholder"><svg class="fa d-icon d-icon-square-full svg-icon svg-node"><use href="#square-full"></use></svg></span><span>events</span></a></p>"""


def text(html: str, limit: int | None = None) -> str:
    return excerpt.plain_text(html, base=FORUM, limit=limit)


def test_quoted_text_is_dropped_from_a_reply():
    assert text(QUOTE) == "Thursday works for me, see you there."
    # a Markdown "> quote" is quoted text too
    assert text("<blockquote><p>Is it ready?</p></blockquote><p>Yes, Monday.</p>") == "Yes, Monday."


def test_lightbox_shows_no_image_metadata():
    out = text(LIGHTBOX)
    assert out == "Here is the photo from the workshop:"
    for leak in ("1920", "245 KB", "workshop.png", "×"):
        assert leak not in out


def test_onebox_is_reduced_to_its_link():
    assert text(ONEBOX) == "Background reading: https://en.wikipedia.org/wiki/Wikimedia_movement"
    md = excerpt.markdown(ONEBOX, base=FORUM)
    assert md == "Background reading:\n\n<https://en.wikipedia.org/wiki/Wikimedia_movement>"


def test_topic_onebox_is_its_title_linked_absolutely():
    assert text(TOPIC_ONEBOX) == "Translation sprint Related to the sprint above."
    md = excerpt.markdown(TOPIC_ONEBOX, base=FORUM)
    assert md.startswith(f"[Translation sprint]({FORUM}/t/translation-sprint/12)")
    assert "40 languages" not in md


def test_code_block_keeps_its_text_and_no_markup():
    out = text(CODE)
    assert out == 'Run this: for page in site.allpages(): print(page.name < "M") and <nowiki> works.'
    md = excerpt.markdown(CODE, base=FORUM)
    assert '```\nfor page in site.allpages():\n    print(page.name < "M")\n```' in md
    assert "`<nowiki>`" in md and "lang-python" not in md


def test_mentions_read_as_names():
    assert text(MENTION) == "Thanks @sam and @translators!"
    assert f"[@sam]({FORUM}/u/sam)" in excerpt.markdown(MENTION, base=FORUM)


def test_emoji_images_become_characters_or_their_code():
    assert text(EMOJI) == "Great work 🎉 and :wikimedia_custom:"


def test_poll_reads_as_its_question_and_options():
    out = text(POLL)
    assert out == "Which day suits you? Pick a day 😉 Saturday / Sunday"
    assert "voters" not in out


def test_spoilers_stay_hidden():
    out = text(SPOILER)
    assert "archive survives" not in out and "whole plot" not in out
    assert out == f"The ending: {excerpt.SPOILER} and more. {excerpt.SPOILER}"


def test_a_spoiler_inside_a_poll_option_stays_hidden():
    # [poll] options are cooked like any inline text, so [spoiler] works inside one
    poll = POLL.replace("Sunday</li>", '<span class="spoiler">Sunday, the surprise</span></li>')
    out = text(poll)
    assert "surprise" not in out
    assert out.endswith(f"Saturday / {excerpt.SPOILER}")


def test_details_show_only_their_summary():
    out = text(DETAILS)
    assert out == "Meeting notes … See above."
    assert "secret" not in out


def test_tables_read_row_by_row():
    assert text(TABLE) == "Language | Done; Arabic | 80%; Spanish | 95%"


def test_hashtags_keep_their_hash():
    assert text(HASHTAG) == "Posted in #events"
    assert f"[#events]({FORUM}/c/events/5)" in excerpt.markdown(HASHTAG, base=FORUM)


def test_every_shape_together_then_cut():
    shapes = [QUOTE, LIGHTBOX, ONEBOX, TOPIC_ONEBOX, CODE, MENTION, EMOJI, POLL, SPOILER, DETAILS, TABLE, HASHTAG]
    full = text("".join(shapes))
    for leak in ("meetup moves", "245 KB", "global community", "40 languages", "voters", "archive survives",
                 "secret minutes", "lang-python", "<img", "<a "):
        assert leak not in full
    for limit in (40, 120, 300):
        out = text("".join(shapes), limit=limit)
        assert len(out) <= limit and out.endswith("…") and full.startswith(out[:-1])


def test_relative_links_and_images_become_absolute():
    html = ('<p><a href="/t/slug/12">the topic</a>, <a href="/u/ada">/u/ada</a>, '
            '<a href="other-post/">next</a>, <img src="/uploads/default/original/1X/a b(1).png" alt="a [diagram]"></p>')
    md = excerpt.markdown(html, base=BLOG_POST)
    assert "[the topic](https://blog.example.org/t/slug/12)" in md
    assert "<https://blog.example.org/u/ada>" in md
    assert "[next](https://blog.example.org/2026/01/the-post/other-post/)" in md
    assert r"![a \[diagram\]](https://blog.example.org/uploads/default/original/1X/a%20b%281%29.png)" in md
    # in plain text a bare relative link reads as the address it goes to
    assert text('<p>see <a href="/u/ada">/u/ada</a></p>') == f"see {FORUM}/u/ada"


def test_script_links_and_markup_written_as_text_stay_inert():
    md = excerpt.markdown('<p><a href="javascript:alert(1)">click</a> [x](javascript:alert(2)) '
                          '&lt;script&gt; # not a heading</p><script>alert(3)</script>', base=BLOG_POST)
    rendered = MarkdownIt("commonmark").render(md)
    soup = BeautifulSoup(rendered, "html.parser")
    assert soup.find("a") is None and soup.find("script") is None
    assert soup.get_text().strip() == "click [x](javascript:alert(2)) <script> # not a heading"


def test_a_link_urllib_cannot_parse_is_left_out_not_fatal():
    # the class of "http://[" (an unclosed IPv6 host): urljoin and urlsplit raise ValueError
    for href in ("http://[", "//[x", "http://[::1"):
        html = f'<p>See <a href="{href}">this</a> <img src="{href}" alt="pic"> now</p>'
        assert text(html) == "See this now"
        md = excerpt.markdown(html, base=BLOG_POST)
        assert " ".join(md.split()) == "See this now" and "](" not in md


def test_cut_falls_outside_links_and_code_spans():
    html = '<p>one two <a href="/x">three four five</a> six <code>seven eight</code> nine</p>'
    assert excerpt.markdown(html, base=FORUM, words=4) == f"one two [three four]({FORUM}/x) …"
    assert excerpt.markdown(html, base=FORUM, words=7) == f"one two [three four five]({FORUM}/x) six `seven` …"
    assert excerpt.markdown(html, base=FORUM, words=9) == f"one two [three four five]({FORUM}/x) six `seven eight` nine"
    code = excerpt.markdown("<pre><code>a b c d e f</code></pre><p>after</p>", base=FORUM, words=3)
    assert code == "```\na b c\n```\n\n…"


def test_plain_cut_never_splits_a_letter():
    for unspaced in ("नमस्ते" * 40, "👨‍👩‍👧" * 30, "Ə̈liyev" * 30, "张伟" * 100):
        out = excerpt.cut_text(unspaced, 21)
        assert out.endswith("…") and len(out) <= 21
        kept = regex.findall(r"\X", out[:-1])
        assert kept == regex.findall(r"\X", unspaced)[: len(kept)]
    assert excerpt.cut_text("short", 20) == "short"


# -- any cut of any mix of shapes leaves whole Markdown --------------------------------------
_URLS = ["/t/topic-one/1", "https://example.org/a_(b)", "/u/ada", "page?x=1&y=2"]
_pieces = st.sampled_from([
    "plain words here", "&amp; &lt;tag&gt; &hellip;", "<em>emphasis words</em>", "<strong>bold <em>nested</em></strong>",
    "<code>x = [1](2)</code>", '<a href="{u}">link text words</a>', '<img src="{u}" alt="alt ] text">',
    "<ul><li>item one</li><li>item two</li></ul>", "<pre><code>block code\nline two</code></pre>",
    "<blockquote><p>quoted words</p></blockquote>", "[brackets](not-a-link)", "`ticks` *stars* _under_",
    '<a href="{u}"><img src="{u}" alt="pic"></a>',
])


@st.composite
def _fragments(draw):
    parts = draw(st.lists(st.tuples(_pieces, st.sampled_from(_URLS)), min_size=1, max_size=12))
    return "".join(f"<p>{p.format(u=u)}</p>" if not p.startswith(("<ul", "<pre", "<blockquote")) else p.format(u=u)
                   for p, u in parts)


@settings(max_examples=150, deadline=None)
@given(_fragments(), st.integers(min_value=1, max_value=40))
def test_any_cut_leaves_whole_markdown(fragment, words):
    md = excerpt.markdown(fragment, base=BLOG_POST, words=words)
    rendered = BeautifulSoup(MarkdownIt("commonmark").render(md), "html.parser")
    expected = {excerpt.absolute_url(u, BLOG_POST) for u in _URLS}
    for a in rendered.find_all("a"):
        assert a["href"] in expected  # every link whole, none made of text
    for img in rendered.find_all("img"):
        assert img["src"] in expected
    shown = rendered.get_text()
    assert "](" not in shown.replace("[brackets](not-a-link)", "").replace("[1](2)", "")
    assert not re.search(r"&[a-z]*$", md) and "<p>" not in md
    full = excerpt.markdown(fragment, base=BLOG_POST)
    if md != full:
        assert md.endswith("…")

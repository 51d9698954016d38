"""Member text made inert for each kind of target: properties over arbitrary text
(Hypothesis), and the hostile classes of issue 11 through `render` for every kind."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from relay_helpers import event

from sync.relay import escape
from sync.relay.render import render

WIKI_SPECIAL = set("[]{}|<>&~'=-_*#:;!")
# Text that leans on the characters markup is made of, plus anything Unicode has.
MARKUP = st.sampled_from(list("[]{}|<>&~'=-_*#:;!@/\\ \n\r\t\x00\x01\x02\x03\x0f\x16\x1d\x1f\x7f\x85\x9b"
                              "\u2028\u202e\u2066") + ["ISBN ", "RFC ", "PMID ", "http://", "__NOTOC__",
                                                       "</nowiki>", "~~~~", "{{!}}", "-{", "@everyone",
                                                       "<!here>", "@room"])
TEXT = st.lists(st.one_of(MARKUP, st.text(max_size=5)), max_size=30).map("".join)

HOSTILE = ["}}", "{{delete}}", "{{subst:X}}", "[[Category:Spam]]", "[[User:V]]", "~~~~", "~~~~~",
           "</NOWIKI>[[Category:X]]<nowiki>", "</nowiki >", "<ref>x</ref>", "__NOTOC__", "----", "== h ==",
           "#REDIRECT [[X]]", "<script>", "{{!}}", "[//evil.example x]", "ISBN 978-0-00-000000-2",
           "-{x}-", "http://evil.example/", "RFC 1234", "'''b'''", "* x", ": x", "; x", " pre",
           "{{PLURAL:2|one|two}} $1 $2"]
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MASS_MENTIONS = ["@everyone", "@here", "@room", "@channel", "<!channel>", "<!here>", "<!everyone>", "<@U123>",
                 "<@&42>", "＠everyone"]


def _outside_references(text: str) -> str:
    return re.sub(r"&#[0-9]+;", "", text)


@settings(max_examples=300)
@given(TEXT)
def test_wikitext_reads_back_as_the_text_and_holds_no_markup_character(text):
    out = escape.wikitext(text)
    assert html.unescape(out) == escape.clean(text)
    bare = _outside_references(out)
    assert not WIKI_SPECIAL & set(bare), bare
    assert "\n" not in out and "\r" not in out and not out.startswith(" ")
    assert not re.search(r"ISBN|RFC|PMID", re.sub(r"&#[0-9]+;", " ", out), re.I)  # magic links need the keyword


@settings(max_examples=300)
@given(TEXT)
def test_clean_leaves_one_line_without_controls(text):
    out = escape.clean(text)
    assert not CONTROLS.search(out) and "\u2028" not in out
    assert escape.clean(out) == out


@settings(max_examples=300)
@given(TEXT)
def test_chat_breaks_every_mention_and_link_but_reads_the_same(text):
    out = escape.chat(text)
    assert not re.search(r"[@!＠][^\s\u200b]|<#[^\s\u200b]", out)
    assert "://" not in out
    assert out.replace(escape.ZWSP, "") == escape.clean(text).replace(escape.ZWSP, "")


@pytest.mark.parametrize("value", [
    "javascript:alert(1)", "data:text/html,x", "//evil.example/x", "http://a b", "http://x\r\nQUIT",
    "https://user:pw@evil.example/", "ftp://x.example/", "", None, "http://", "https://[::1]/",
])
def test_url_refuses_anything_but_a_plain_http_link(value):
    assert escape.url(value) is None


def test_url_encodes_what_would_end_a_link_or_become_markup():
    got = escape.url("https://space.example/t/a|b]x)~~~~/__NOTOC__/'x'/{{t}}/<s>?q=1&r=é#f")
    assert got == ("https://space.example/t/a%7Cb%5Dx%29%7E%7E%7E%7E/%5F%5FNOTOC%5F%5F/%27x%27/%7B%7Bt%7D%7D/"
                   "%3Cs%3E?q=1&r=%C3%A9#f")
    assert escape.url("https://bücher.example/x") == "https://xn--bcher-kva.example/x"


def _hostile_event(text):
    return event(title=text, excerpt=text, author=text, category=text, tags=(text,))


@pytest.mark.parametrize("text", HOSTILE)
def test_wiki_message_of_hostile_text_holds_only_the_bridges_markup(text):
    m = render(_hostile_event(text), "wiki", "en")
    benign = render(_hostile_event("X"), "wiki", "en")
    inert = escape.wikitext(text)
    assert not WIKI_SPECIAL & set(_outside_references(inert))
    # Everywhere the member's text goes (heading, author, title, excerpt, category, tags) it
    # is the inert form; all other markup is the bridge's (link, indent, signature).
    assert m.title.replace(inert, "X") == benign.title
    assert m.text.replace(inert, "X") == benign.text
    assert html.unescape(m.title) == f"{text.strip()} started a topic: {text.strip()}"


@pytest.mark.parametrize("text", [*MASS_MENTIONS, "\x01ACTION waves\x01", "\x02bold\x02 \x0304red\x0f \x16\x1d\x1f\x1e\x11",
                                  "a\r\nPRIVMSG #x :pwned", "\x1b[31mred", "\u202eevil", "\x85next"])
@pytest.mark.parametrize("colours", [False, True])
def test_irc_line_carries_no_control_code_but_the_bridges_own(text, colours):
    line = render(_hostile_event(text), "irc", "en", {"colours": colours}).text
    if colours:
        assert line.startswith("\x0314[") and line.count("\x0f") == 1 and line.count("\x02") == 2
        line = line.replace("\x0314", "").replace("\x0f", "").replace("\x02", "")
    assert not CONTROLS.search(line), repr(line)


@pytest.mark.parametrize("text", MASS_MENTIONS + ["http://evil.example|Official notice>", "<a href='http://e'>x</a>"])
def test_chat_message_pings_no_room_and_makes_no_link(text):
    m = render(_hostile_event(text), "apprise", "en")
    for body in (m.text, html.unescape(re.sub(r"<[^>]+>", "", m.html))):
        unescaped = body.replace("\\", "")
        for mention in MASS_MENTIONS:
            assert mention not in unescaped
        assert "http://" not in unescaped
    assert m.html.count("<a ") == 1 and m.text.count("](") == 1  # the bridge's "Read more" only


@pytest.mark.parametrize("kind", ["irc", "apprise", "email"])
def test_member_text_is_never_read_as_message_syntax(kind):
    m = render(event(title="{{PLURAL:2|one|two}} $1 $2", author="$2"), kind, "en")
    assert "$2 started a topic: " in m.text.replace("\\", "")
    assert "{{PLURAL:2|one|two}} $1 $2" in m.text.replace("\\", "")

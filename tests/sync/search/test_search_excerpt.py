"""Excerpts: the member's words marked in the text as written, the rest escaped."""

from __future__ import annotations

from sync.search.excerpt import excerpt


def test_marks_the_words_as_written_with_their_diacritics():
    assert excerpt("قرأتُ كَتَبَ الطالبُ", ("كتب",)) == "قرأتُ <mark>كَتَبَ</mark> الطالبُ"
    assert excerpt("Un café noir", ("CAFE",)) == "Un <mark>café</mark> noir"


def test_a_word_marks_the_whole_word_it_starts_and_only_at_a_word_start():
    assert excerpt("running and rerun", ("run",)) == "<mark>running</mark> and rerun"


def test_html_in_the_text_is_escaped():
    assert excerpt("<b>bold</b> & more", ("bold",)) == "&lt;b&gt;<mark>bold</mark>&lt;/b&gt; &amp; more"


def test_a_long_text_is_cut_around_the_first_match():
    text = "start " + "filler " * 100 + "the needle is here " + "tail " * 100
    cut = excerpt(text, ("needle",), length=120)
    assert cut.startswith("…") and cut.endswith("…") and "<mark>needle</mark>" in cut
    assert len(cut) < 160


def test_without_a_match_the_beginning_is_shown():
    assert excerpt("short text", ()) == "short text"

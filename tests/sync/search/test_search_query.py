"""The query language a member types in the box: what each part means, and that nothing typed
is ever an error — a filter the box does not know is a hint shown beside the results."""

from __future__ import annotations

import datetime as dt

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sync.search.query import MAX_TERMS, parse


def test_words_phrases_and_exclusions():
    q = parse('solar "open source" -spam -"paid ads" panels')
    assert q.words == ("solar", "panels") and q.phrases == ("open source",)
    assert q.excluded == ("spam", "paid ads") and q.hints == ()


def test_the_filters_members_know_from_discourse():
    q = parse("report tags:Events,berlin #Community_News @Ada.L after:2026-01-01 before:2026-02-01 "
              "in:FORUM lang:AR order:views")
    assert q.words == ("report",) and q.tags == ("events", "berlin") and not q.all_tags
    assert q.category == "community-news" and q.author == "ada.l"
    assert q.after == dt.date(2026, 1, 1) and q.before == dt.date(2026, 2, 1)
    assert q.source == "forum" and q.language == "ar" and q.order == "views" and q.hints == ()
    assert parse("tags:a+b").tags == ("a", "b") and parse("tags:a+b").all_tags
    assert parse('#"General Discussion"').category == "general-discussion"


def test_form_fields_apply_like_the_box_and_win_over_it():
    q = parse("x order:views", order="latest", in_="blog", tags="a,b", category="News", author="@bob",
              after="2026-05-01", lang="es")
    assert (q.order, q.source, q.tags, q.category, q.author, q.after, q.language) == \
        ("latest", "blog", ("a", "b"), "news", "bob", dt.date(2026, 5, 1), "es")


def test_malformed_or_unknown_filters_are_hints():
    q = parse("after:yesterday in:wiki order:best lang:english tagz:x before:")
    codes = [h.code for h in q.hints]
    assert codes == ["bad-date", "bad-in", "bad-order", "bad-lang", "unknown-filter", "empty-filter"]
    assert "did you mean 'tags:'" in q.hints[4].text
    assert q.after is None and q.source is None and q.order == "relevance" and q.language is None
    assert q.words == ("tagz:x",)  # searched as words, as the hint says


def test_a_url_or_a_time_is_text_not_a_filter():
    q = parse("https://example.org/x 10:30")
    assert q.words == ("https://example.org/x", "10:30") and q.hints == ()


def test_an_impossible_date_range_is_said():
    assert [h.code for h in parse("after:2026-02-01 before:2026-01-01").hints] == ["empty-range"]


def test_long_queries_are_cut_with_a_hint():
    q = parse("word " * 200, max_length=500)
    assert {h.code for h in q.hints} == {"too-long", "too-many-terms"}
    assert len(q.words) <= MAX_TERMS


def test_terms_without_a_letter_or_digit_are_dropped():
    q = parse('... "" -- - " " ، ؟ hello')
    assert q.words == ("hello",) and q.phrases == () and q.excluded == ()


@given(st.text(), st.dictionaries(st.sampled_from(["tags", "category", "author", "after", "before", "in_",
                                                   "lang", "order"]), st.text(max_size=30)))
@settings(max_examples=300, derandomize=True)
@example('"', {}).via("an unterminated quote")
@example("-\"", {"after": "2026-13-40"}).via("an empty excluded phrase, a bad date field")
@example("tags:,,+ #@ @# after:9999-99-99 \x00", {}).via("empty and impossible filter values")
def test_the_parser_never_raises(text, fields):
    parse(text, **fields)

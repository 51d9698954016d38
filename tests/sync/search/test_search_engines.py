"""The search engines, each test on SQLite (FTS5) and on PostgreSQL (tsvector): what a member
searching the Space would notice — what is found, in which order, what is left out."""

from __future__ import annotations

import datetime as dt

import pytest

from sync.search.engines import Document, for_database
from sync.search.query import parse
from sync.search.settings import SearchSettings

NOW = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def doc(remote_id, title, body="", **fields) -> Document:
    values = {"source": "blog", "site": "blog", "url": f"https://blog.example/{remote_id}",
              "created_at": NOW - dt.timedelta(days=10), "author": "Alice", "language": "en"}
    values.update(fields)
    return Document(remote_id=str(remote_id), title=title, body=body, **values)


@pytest.fixture
def search(engine):
    return for_database(engine, SearchSettings(page_size=5))


def ids(page) -> list[str]:
    return [r.remote_id for r in page.results]


def find(search, q, page=1, **fields):
    return ids(search.search(parse(q, **fields), page))


def test_a_title_match_ranks_above_a_body_match(search):
    search.index(doc(1, "Weekly notes", "We talked about the volcano at length, the volcano again."))
    search.index(doc(2, "Volcano field trip", "Notes from the trip."))
    assert find(search, "volcano") == ["2", "1"]


def test_a_newer_document_ranks_first_between_equal_matches(search):
    search.index(doc(1, "Glacier walk", "", created_at=NOW - dt.timedelta(days=400)))
    search.index(doc(2, "Glacier walk", "", created_at=NOW - dt.timedelta(days=1)))
    assert find(search, "glacier") == ["2", "1"]


def test_words_phrases_and_exclusions(search):
    search.index(doc(1, "Red apple pie", "baked with love"))
    search.index(doc(2, "Pie chart of apple sales", "red numbers"))
    search.index(doc(3, "Apple orchard", "sweet pie here, not the chart"))
    assert set(find(search, "apple pie")) == {"1", "2", "3"}
    assert find(search, '"apple pie"') == ["1"]
    assert set(find(search, "apple -chart")) == {"1"}
    assert set(find(search, 'apple -"sweet pie"')) == {"1", "2"}


def test_each_filter(search):
    search.index(doc(1, "Meetup report", "", tags=("Events", "Berlin"), category="Community News",
                     author="Ada Lovelace", language="en", created_at=dt.datetime(2026, 3, 5)))
    search.index(doc(2, "Meetup planning", "", source="forum", site="forum", tags=("events",),
                     category="Planning", author="bob", language="es", created_at=dt.datetime(2026, 6, 1)))
    assert find(search, "meetup tags:berlin") == ["1"]
    assert set(find(search, "meetup tags:events")) == {"1", "2"}
    assert find(search, "meetup tags:events+berlin") == ["1"]
    assert set(find(search, "meetup tags:berlin,planning-only")) == {"1"}
    assert find(search, "meetup #community-news") == ["1"]
    assert find(search, "meetup #planning") == ["2"]
    assert find(search, "meetup @ada_lovelace") == ["1"]
    assert find(search, "meetup @BOB") == ["2"]
    assert find(search, "meetup after:2026-04-01") == ["2"]
    assert find(search, "meetup before:2026-04-01") == ["1"]
    assert find(search, "meetup in:forum") == ["2"]
    assert find(search, "meetup in:blog") == ["1"]
    assert find(search, "meetup lang:es") == ["2"]
    # the same filters as form fields, and a filter alone with no words
    assert find(search, "meetup", tags="berlin") == ["1"]
    assert find(search, "", in_="forum") == ["2"]
    assert find(search, "", category="Community News", author="ada lovelace") == ["1"]


def test_each_order_and_stable_paging(search):
    for i in range(12):
        search.index(doc(i, f"Garden diary {i}", "garden", views=(i * 7) % 5, created_at=NOW - dt.timedelta(days=i)))
    latest = find(search, "garden order:latest") + find(search, "garden order:latest", page=2) \
        + find(search, "garden order:latest", page=3)
    assert latest == [str(i) for i in range(12)]
    by_views = [search.search(parse("garden order:views"), p) for p in (1, 2, 3)]
    views = [r.views for page in by_views for r in page.results]
    assert views == sorted(views, reverse=True) and len(views) == 12
    relevance = [find(search, "garden", page=p) for p in (1, 2, 3)]
    assert sorted(sum(relevance, [])) == sorted(str(i) for i in range(12))  # every one once
    assert relevance == [find(search, "garden", page=p) for p in (1, 2, 3)]  # the same again
    page = search.search(parse("garden"), 3)
    assert page.total == 12 and page.pages == 3 and len(page.results) == 2


def test_only_visible_documents_are_found(search):
    search.index(doc(1, "Secret draft", "hidden", visible=False))
    search.index(doc(2, "Public secret", "shown"))
    assert find(search, "secret") == ["2"]


def test_arabic_matches_with_and_without_diacritics(search):
    search.index(doc(1, "كَتَبَ الطالبُ الدرسَ", "نصّ عربيّ مُشكَّل", language="ar"))
    search.index(doc(2, "موضوع آخر", "كـتـب بالتطويل", language="ar"))
    assert set(find(search, "كتب")) == {"1", "2"}
    assert set(find(search, "كَتَبَ")) == {"1", "2"}
    excerpt = search.search(parse("مشكل"), 1).results[0].excerpt
    assert "<mark>مُشكَّل</mark>" in excerpt


def test_a_chinese_substring_matches(search):
    search.index(doc(1, "我们是中国人", "今天天气很好", language="zh"))
    search.index(doc(2, "日本語の記事", "東京で会いましょう", language="ja"))
    assert find(search, "中国") == ["1"]
    assert find(search, "中国人") == ["1"]
    assert find(search, "天气很好") == ["1"]
    assert find(search, "東京") == ["2"]
    assert find(search, "中国 -天气") == []
    assert search.search(parse("中国"), 1).results[0].title_html == "我们是<mark>中国</mark>人"
    assert "<mark>天气</mark>" in search.search(parse("天气"), 1).results[0].excerpt


def test_removal(search):
    search.index(doc(1, "Harbour lights", "boats"))
    assert search.remove("blog", "blog", "1") is True
    assert find(search, "harbour") == []
    assert search.remove("blog", "blog", "1") is False


def test_an_edit_replaces_the_old_words(search):
    search.index(doc(1, "Old title", "pineapple"))
    search.index(doc(1, "New title", "mango", views=3))
    assert find(search, "pineapple") == []
    assert find(search, "mango") == ["1"]
    page = search.search(parse("mango"), 1)
    assert page.total == 1 and page.results[0].title == "New title" and page.results[0].views == 3


def test_the_excerpt_marks_the_words_in_the_original_text(search):
    search.index(doc(1, "Café notes", "Long text " * 40 + "we met at the <Café> by the river " + "more " * 40))
    result = search.search(parse("cafe river"), 1).results[0]
    assert "<mark>Café</mark>" in result.excerpt and "<mark>river</mark>" in result.excerpt
    assert "&lt;" in result.excerpt and result.excerpt.startswith("…")


def test_fts_syntax_in_the_query_is_only_text(search):
    search.index(doc(1, "NEAR AND OR NOT", "title:body ^start * quoted \"x\""))
    for q in ['NEAR(a b)', 'title:body', '^start', '*', 'a AND', '"', '""', "'", "(", ")", "-", "--x", "\\",
              "OR", "NOT", 'x"y', "%", "_", "a:b:c", "\x00", "ـ", "ً"]:
        search.search(parse(q), 1)  # no error on either database
    assert find(search, "near") == ["1"]
    assert find(search, "title:body") == ["1"]


def test_a_document_with_nul_or_a_lone_surrogate_is_indexed_without_them(search):
    search.index(doc(1, "Broken\x00 export", "text \ud800 from\x00 a bad feed", author="Eve\x00", tags=("a\x00b",)))
    result = search.search(parse("export from tags:ab"), 1).results[0]
    assert result.title == "Broken export" and result.author == "Eve" and result.tags == ("ab",)


def test_the_same_new_document_indexed_by_two_jobs_at_once_is_one_document(engine):
    import threading

    searches = [for_database(engine), for_database(engine)]
    barrier = threading.Barrier(2)
    errors = []

    def run(search, title):
        barrier.wait()
        try:
            search.index(doc(7, title, "lighthouse"))
        except Exception as exc:  # noqa: BLE001 - the test reports any
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s, t)) for s, t in zip(searches, ("First", "Second"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    page = searches[0].search(parse("lighthouse"), 1)
    assert page.total == 1 and page.results[0].title in ("First", "Second")


def test_a_chinese_term_follows_edits_that_add_or_remove_chinese_text(search):
    # SQLite keeps only documents with such text in its substring (trigram) index: an edit moves
    # a document in or out of it, and the search must follow.
    search.index(doc(1, "Trip notes", "we visited 长城 in spring"))
    search.index(doc(2, "Plain notes", "nothing but Latin letters"))
    assert find(search, "长城") == ["1"] and find(search, "长") == ["1"]
    search.index(doc(1, "Trip notes", "we visited the wall in spring"))
    search.index(doc(2, "Plain notes", "now with 长城 too"))
    assert find(search, "长城") == ["2"] and find(search, "长") == ["2"]
    assert set(find(search, "notes -长城")) == {"1"}


def test_the_total_is_told_on_every_page_even_past_the_last(search):
    for i in range(7):
        search.index(doc(i, f"Tide table {i}", "tides"))
    pages = [search.search(parse("tides"), p) for p in (1, 2, 3)]
    assert [len(p.results) for p in pages] == [5, 2, 0]
    assert [p.total for p in pages] == [7, 7, 7] and pages[2].pages == 2
    assert search.search(parse("nothing-like-this"), 1).total == 0
    assert search.search(parse("nothing-like-this"), 2).total == 0


def test_a_short_chinese_term_said_more_often_ranks_first(search, engine):
    # two characters are below the trigram index's three: SQLite matches them by substring and
    # counts the body's mentions (PostgreSQL's ranking of such terms is title or body only)
    search.index(doc(1, "旅行笔记", "我们去了长城。长城很美。明年还去长城。", language="zh"))
    search.index(doc(2, "旅行笔记", "我们去了长城。", language="zh"))
    search.index(doc(3, "长城", "照片", language="zh"))
    found = find(search, "长城")
    assert found[0] == "3"  # the title first
    if engine.dialect.name == "sqlite":
        assert found == ["3", "1", "2"]


def test_a_word_with_an_exclusion_never_finds_everything_without_the_excluded_word(search):
    """On PostgreSQL english drops "they" as a stop word: the query must not shrink to "-nothing"."""
    search.index(doc(1, "They came", "they came for the talks"))
    search.index(doc(2, "Budget", "numbers only"))
    search.index(doc(3, "Nothing here", "nothing"))
    found = find(search, "they -nothing")
    assert "2" not in found and "3" not in found
    assert set(find(search, "budget -nothing")) == {"2"}

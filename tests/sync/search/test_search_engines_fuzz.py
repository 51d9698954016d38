"""Whatever a member types, both engines answer with a page, never a database error: FTS5 and
tsquery syntax, quotes, NUL, lone marks, scripts with and without spaces (issue 15, point 6)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sync.search.engines import Document, for_database
from sync.search.query import parse

SYNTAX = ['"', "'", "-", "*", "^", ":", "(", ")", "{", "}", "+", ",", "#", "@", "NEAR", "AND", "OR", "NOT",
          "!", "&", "|", "<->", "\\", "%", "_", "\x00", "ً", "ـ", "中国", "東京", "ไทย", "كتب", "tags:", "in:",
          "after:", "order:", "lang:", " "]
queries = st.one_of(st.text(), st.lists(st.sampled_from(SYNTAX) | st.text(max_size=4), max_size=12).map("".join))


@pytest.fixture
def search(engine):
    search = for_database(engine)
    now = dt.datetime(2026, 6, 1)
    for i, (title, body, language) in enumerate([
        ("NEAR AND OR NOT", 'title:body ^x * "quoted" <-> !!', "en"),
        ("كَتَبَ الطالبُ", "نصّ عربيّ", "ar"),
        ("我们是中国人", "東京で会いましょう ภาษาไทย", "zh"),
        ("Fiesta de verano", "corriendo por la playa", "es"),
    ]):
        search.index(Document(source="blog", site="blog", remote_id=str(i), url=f"https://b/{i}",
                              title=title, body=body, created_at=now, language=language, tags=("a",)))
    return search


fields = st.dictionaries(st.sampled_from(["tags", "category", "author", "after", "before", "in_", "lang", "order"]),
                         st.text(st.characters(), max_size=12))


@given(q=queries, page=st.integers(min_value=1, max_value=3), fields=fields)
@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(q='"NEAR(a b)" -"" -* ^title:x', page=1, fields={})
@example(q="\x00 \ud800 ً ـ - -ً", page=1, fields={"category": "a\x00b", "author": "\udfff", "tags": "\x00,\ud800"})
@example(q="中 国 -中 ab中", page=1, fields={"after": "2026-01-01", "before": "0001-01-01"})
def test_the_engine_never_errors(search, q, page, fields):
    result = search.search(parse(q, **fields), page)
    assert result.total >= len(result.results)

"""/search.json as a client sees it, on SQLite and PostgreSQL: results, filters as fields,
paging, hints and plain messages; any parameter gives 200 or a clear 400, never a 5xx."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bridge import config
from bridge.app import create_app
from sync.search.engines import Document, for_database

PARAMS = ("q", "tags", "category", "author", "after", "before", "in", "lang", "order", "page")


@pytest.fixture
def client(settings_file, engine):
    settings_file.write_text(settings_file.read_text() + "search:\n  enabled: true\n")
    settings = config.load(settings_file)
    search = for_database(engine, settings.search)
    for i in range(25):
        search.index(Document(
            source="forum" if i % 2 else "blog", site="forum" if i % 2 else "blog", remote_id=str(i),
            url=f"https://space.example/{i}", title=f"Beekeeping <notes> {i}", body="hives and honey",
            created_at=dt.datetime(2026, 1, 1) + dt.timedelta(days=i), author="Ada", language="en",
            tags=("bees",), category="Nature", views=i, replies=1, visible=i != 24))
    return create_app(settings, engine).test_client()


def test_results_are_paged_in_a_stable_order(client):
    first = client.get("/search.json?q=honey&order=latest").json
    assert first["total"] == 24 and first["pages"] == 2 and first["page_size"] == 20
    second = client.get("/search.json?q=honey&order=latest&page=2").json
    urls = [r["url"] for r in first["results"] + second["results"]]
    assert urls == [f"https://space.example/{i}" for i in range(23, -1, -1)]  # 24 is not visible
    top = first["results"][0]
    assert top["title_html"] == "Beekeeping &lt;notes&gt; 23" and "<mark>honey</mark>" in top["excerpt_html"]
    assert top["source"] == "forum" and top["views"] == 23 and top["created_at"] == "2026-01-24T00:00:00Z"


def test_the_filters_as_form_fields(client):
    found = client.get("/search.json", query_string={"q": "honey", "in": "blog", "order": "views",
                                                     "after": "2026-01-11", "tags": "bees"}).json
    assert [r["url"][-2:] for r in found["results"]] == ["22", "20", "18", "16", "14", "12", "10"]
    assert client.get("/search.json?q=honey&category=nature&author=ada").json["total"] == 24


def test_nothing_found_is_a_plain_message_with_the_hints(client):
    found = client.get("/search.json?q=wasps+order:best").json
    assert found["results"] == [] and found["message"] == "Nothing matches this search."
    assert [h["code"] for h in found["hints"]] == ["bad-order"]
    beyond = client.get("/search.json?q=honey&page=9")
    assert beyond.status_code == 200 and beyond.json["message"] == "There are only 2 page(s) of results."


@pytest.mark.parametrize("page", ["-1", "0", "1.5", "x", "١", "99999999999999999999"])
def test_an_impossible_page_is_a_clear_400(client, page):
    resp = client.get("/search.json", query_string={"q": "honey", "page": page})
    assert resp.status_code == 400 and resp.json == {"error": "page must be a whole number from 1 to 500"}


@given(st.dictionaries(st.sampled_from(PARAMS), st.text(max_size=60) | st.binary(max_size=20).map(
    lambda b: b.decode("latin-1"))))
@settings(max_examples=120, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@example({"q": '"', "page": "2"})
@example({"category": "\x00", "author": "a\x00", "tags": "\x00,b", "lang": "\x00"})
@example({"q": "\x00", "tags": ",,,", "after": "2026-02-30", "in": "wiki", "order": "views"})
@example({"q": "中国 -\"", "lang": "zh-hant-tw-x", "category": "#", "author": "@"})
def test_any_parameters_give_200_or_400_never_5xx(client, params):
    resp = client.get("/search.json", query_string=params)
    assert resp.status_code in (200, 400), resp.data[:500]
    assert resp.is_json


def test_search_is_on_by_default_and_turned_off_has_no_endpoint(settings_file, engine):
    assert create_app(config.load(settings_file), engine).test_client().get("/search.json?q=honey").status_code == 200
    settings_file.write_text(settings_file.read_text() + "search:\n  enabled: false\n")
    app = create_app(config.load(settings_file), engine).test_client()
    assert app.get("/search.json?q=honey").status_code == 404

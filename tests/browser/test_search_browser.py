"""The /search page in real Chromium, in English and Arabic, on a desktop and a phone.

A bridge with search on (SQLite) is served over HTTP with an index filled directly: English
forum topics and blog posts, a Spanish post, and an Arabic topic written with its diacritics.
What a member would notice is asserted: results with the words they typed marked, the Arabic
page right to left, nothing wider than a 390 px phone screen, and a form that searches again
when filled in and submitted (no script needed). Screenshots go to
test-artifacts/browser/<test name>/.
"""

from __future__ import annotations

import datetime as dt
import threading
import types

import pytest
from werkzeug.serving import make_server

# with the other browser tests: real Chromium (deploy/dev/browser.sh), run under the stack lock
pytestmark = pytest.mark.stack

PHONE, DESKTOP = 390, 1280
ARABIC_TITLE = "العَسَلُ وَالنَّحْلُ فِي الرَّبِيعِ"
LONG_WORD = "https://example.org/" + "a-very-long-address-without-spaces/" * 4 + "honey"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from bridge import config, store
    from bridge.app import create_app
    from sync.search.engines import Document, for_database

    tmp = tmp_path_factory.mktemp("search")
    holder = types.SimpleNamespace(app=None)
    server = make_server("127.0.0.1", 0, lambda environ, start: holder.app(environ, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = config.parse({
        "bridge": {"public_url": url, "secret_key": "browser-search-secret-key-0123456789abcdef",
                   "database_url": f"sqlite:///{tmp}/bridge.db", "state_dir": str(tmp / "state"),
                   "log_format": "console"},
        "search": {"enabled": True, "page_size": 4},
    }, "<browser search test>")
    engine = store.make_engine(settings.bridge.database_url)
    store.upgrade(engine)
    search = for_database(engine, settings.search)
    for i in range(6):
        search.index(Document(
            source="forum" if i % 2 else "blog", site="forum" if i % 2 else "news", remote_id=f"en{i}",
            url=f"{url}/t/en{i}", title=f"Beekeeping in spring, part {i + 1}",
            body="Hives and honey: how the colony grows when the days get longer, and what the beekeeper "
                 "does about swarms, queens and the first harvest of honey.",
            created_at=dt.datetime(2026, 3, 1) + dt.timedelta(days=i), author="Ada Lovelace", language="en",
            tags=("bees",), category="Nature", views=40 - i, replies=i))
    search.index(Document(
        source="blog", site="news", remote_id="long", url=f"{url}/t/long", title=f"Honey links {LONG_WORD}",
        body=f"Where to read about honey: {LONG_WORD} and more.", created_at=dt.datetime(2026, 2, 1),
        author="Grace", language="en"))
    search.index(Document(
        source="blog", site="noticias", remote_id="es", url=f"{url}/t/es", title="Las abejas y la miel de montaña",
        body="Colmenas y miel de montaña: la primera cosecha de la primavera.", created_at=dt.datetime(2026, 3, 2),
        author="Beatriz", language="es", views=12))
    search.index(Document(
        source="forum", site="forum", remote_id="ar", url=f"{url}/t/ar", title=ARABIC_TITLE,
        body="كَتَبَ النَّحَّالُ عَنِ العَسَلِ وَالخَلَايَا وَالمَلِكَاتِ فِي أَوَّلِ الرَّبِيعِ.",
        created_at=dt.datetime(2026, 3, 3), author="سلمى", language="ar", replies=2, views=7))
    holder.app = create_app(settings, engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield types.SimpleNamespace(url=url)
    finally:
        server.shutdown()
        server.server_close()
        engine.dispose()


def overflow(page) -> int:
    """How many pixels the page is wider than its window (0: no horizontal scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def result_titles(page) -> list[str]:
    return page.locator("ol.results h3").all_inner_texts()


@pytest.mark.parametrize("lang, query, expected", [
    ("en", "honey", "Beekeeping in spring"),
    ("ar", "العسل", ARABIC_TITLE),
], ids=["en", "ar"])
def test_results_on_a_desktop_and_a_phone(site, page, shots, lang, query, expected):
    for width in (DESKTOP, PHONE):
        page.set_viewport_size({"width": width, "height": 900})
        resp = page.goto(f"{site.url}/search?q={query}&uselang={lang}")
        assert resp.status == 200
        html = page.locator("html")
        assert html.get_attribute("lang") == lang and html.get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
        titles = result_titles(page)
        assert titles and any(expected in t for t in titles), titles
        assert page.locator("ol.results mark").count() >= len(titles)
        if lang == "ar":
            # found without its diacritics, marked as written
            assert page.locator("ol.results h3 mark").first.inner_text() == "العَسَلُ"
            title = page.locator("ol.results h3").first
            assert title.get_attribute("lang") == "ar"
            # the title starts on the right, as Arabic reads
            box, main = title.bounding_box(), page.locator("main").bounding_box()
            assert main["x"] + main["width"] - (box["x"] + box["width"]) < 40
        if width == PHONE:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
            assert overflow(page) == 0
            # the box and its button side by side, both inside the screen
            field, button = page.locator("#search-q").bounding_box(), page.locator("#search-submit").bounding_box()
            assert abs(field["y"] - button["y"]) < 5 and field["width"] > 150
            assert 0 <= min(field["x"], button["x"]) and max(field["x"] + field["width"], button["x"] + button["width"]) <= PHONE
        shots(f"{lang}-{width}")


def test_a_long_address_does_not_widen_the_phone_page(site, page, shots):
    page.set_viewport_size({"width": PHONE, "height": 900})
    page.goto(f"{site.url}/search?q=links&uselang=en")
    assert any(LONG_WORD in t for t in result_titles(page))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    shots("long-address-390")


def test_the_form_searches_again_and_keeps_the_filters(site, page, shots):
    page.set_viewport_size({"width": PHONE, "height": 900})
    page.goto(f"{site.url}/search?uselang=es")
    assert page.locator("#search-results").count() == 0
    assert page.evaluate("document.activeElement.id") == "search-q"  # the box is ready to type in
    page.fill("#search-q", "honey")
    page.press("#search-q", "Enter")
    page.wait_for_url("**q=honey**")
    first = result_titles(page)
    assert len(first) == 4 and page.locator("#search-count").inner_text() == "7 resultados"
    shots("honey-es-390")

    # a filter and a new query, with the button
    page.fill("#search-q", "miel")
    page.select_option("#search-in", "blog")
    page.click("#search-submit")
    page.wait_for_url("**q=miel**")
    assert "in=blog" in page.url and "uselang=es" in page.url
    assert result_titles(page) == ["Las abejas y la miel de montaña"] != first
    assert page.locator("#search-in").input_value() == "blog"
    assert page.locator("#search-q").input_value() == "miel"
    shots("miel-blog-es-390")

    # the next page keeps the query and the filters
    page.goto(f"{site.url}/search?q=honey&order=views&uselang=en")
    page.click("nav.pages a.next")
    page.wait_for_url("**page=2**")
    assert "order=views" in page.url
    assert page.locator("#search-order").input_value() == "views"
    assert len(result_titles(page)) == 3 and page.locator("nav.pages a.previous").count() == 1
    assert overflow(page) == 0
    shots("page-2-en-390")


def test_focus_is_visible_from_the_keyboard(site, page):
    page.goto(f"{site.url}/search?q=honey&uselang=ar")
    page.focus("#search-q")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "search-submit"
    style = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert style == "solid", "a keyboard user cannot see where they are"


def test_hints_and_an_impossible_page_in_arabic(site, page, shots):
    page.set_viewport_size({"width": PHONE, "height": 900})
    page.goto(f"{site.url}/search?q=honey+order:best&uselang=ar")
    assert "ليس order:latest" in page.locator("#search-hints").inner_text()
    assert overflow(page) == 0
    shots("hint-ar-390")
    resp = page.goto(f"{site.url}/search?q=honey&page=0&uselang=ar")
    assert resp.status == 400
    assert page.locator("#search-message").inner_text() == "يجب أن يكون رقم الصفحة عددًا صحيحًا من 1 إلى 500."
    shots("bad-page-ar-390")

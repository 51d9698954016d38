"""/search and /opensearch.xml as a member's browser gets them, on SQLite and PostgreSQL.

The page is the search of /search.json drawn as HTML: what was asked comes back in the form and
in the links to the other pages, anything written by someone else (titles, bodies, the query)
is text and never markup, the hints and messages are in the member's language (Arabic right to
left), and any query string is a page, never a 5xx. The OpenSearch description names the
bridge's configured address, whatever Host a client sends.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bridge import config
from bridge.app import create_app
from sync.search.engines import Document, for_database

PARAMS = ("q", "tags", "category", "author", "after", "before", "in", "lang", "order", "page", "uselang")
PUBLIC_URL = "https://space.example/bridge"
HOSTILE_TITLE = '<script>alert("t")</script> Honey & "hives"'
HOSTILE_BODY = 'honey "><img src=x onerror=alert(1)> <b>bold</b> & more'


def _settings(settings_file, extra: str = ""):
    text = settings_file.read_text().replace("public_url: http://127.0.0.1:8090", f"public_url: {PUBLIC_URL}")
    settings_file.write_text(text + "search:\n  enabled: true\n  page_size: 5\n" + extra)
    return config.load(settings_file)


@pytest.fixture
def client(settings_file, engine):
    """12 English forum topics and blog posts about honey, a Spanish and an Arabic post, and one
    with a hostile title and body linking to a javascript: address."""
    settings = _settings(settings_file)
    search = for_database(engine, settings.search)
    for i in range(12):
        search.index(Document(
            source="forum" if i % 2 else "blog", site="forum" if i % 2 else "news", remote_id=str(i),
            url=f"https://space.example/t/{i}", title=f"Beekeeping notes {i}", body="hives and honey in spring",
            created_at=dt.datetime(2026, 1, 1) + dt.timedelta(days=i), author="Ada", language="en",
            tags=("bees",), category="Nature", views=i * 10, replies=i))
    search.index(Document(
        source="blog", site="noticias", remote_id="es", url="https://space.example/es", title="Las abejas y la miel",
        body="Colmenas y miel de montaña.", created_at=dt.datetime(2026, 2, 3), author="Beatriz", language="es"))
    search.index(Document(
        source="forum", site="forum", remote_id="ar", url="https://space.example/ar", title="العَسَلُ وَالنَّحْلُ",
        body="كَتَبَ النَّحَّالُ عَنِ العَسَلِ فِي الرَّبِيعِ.", created_at=dt.datetime(2026, 2, 4), author="سلمى",
        language="ar", replies=2, views=3))
    search.index(Document(
        source="blog", site="news", remote_id="x", url="javascript:alert(1)", title=HOSTILE_TITLE, body=HOSTILE_BODY,
        created_at=dt.datetime(2025, 6, 1), author='<i>Mallory</i>', language='en" onmouseover="x'))
    return create_app(settings, engine).test_client()


def soup(resp) -> BeautifulSoup:
    return BeautifulSoup(resp.get_data(as_text=True), "html.parser")


def args_of(href: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}


# -- the form and the links keep what was asked ----------------------------------------------------
def test_filters_come_back_in_the_form_and_in_the_paging_links(client):
    asked = {"q": "honey", "in": "forum", "order": "views", "tags": "bees", "category": "Nature", "author": "Ada",
             "after": "2026-01-02", "before": "2026-03-01", "lang": "en", "uselang": "es"}
    page = soup(client.get("/search", query_string=asked))
    form = page.find("form", attrs={"role": "search"})
    assert form.find("input", attrs={"name": "q"})["value"] == "honey"
    for name in ("tags", "category", "author", "after", "before"):
        assert form.find("input", attrs={"name": name})["value"] == asked[name], name
    for name, value in (("in", "forum"), ("order", "views"), ("lang", "en")):
        assert form.find("select", attrs={"name": name}).find("option", selected=True)["value"] == value, name
    assert form.find("input", attrs={"name": "uselang", "type": "hidden"})["value"] == "es"
    # forum topics 3, 5, ..., 11 (on or after 2 January), most viewed first: 5 on page 1, 1 on page 2
    assert [a["href"] for a in page.select("ol.results h3 a")] == [f"https://space.example/t/{i}" for i in (11, 9, 7, 5, 3)]
    assert page.find(id="search-count").get_text(strip=True) == "6 resultados"
    assert page.select_one("nav.pages a.previous") is None
    nxt = page.select_one("nav.pages a.next")
    assert nxt.get_text(strip=True) == "Página siguiente"
    assert args_of(nxt["href"]) == {**asked, "page": "2"}

    second = soup(client.get(nxt["href"]))
    assert [a["href"] for a in second.select("ol.results h3 a")] == ["https://space.example/t/1"]
    assert second.select_one("ol.results")["start"] == "6"
    assert args_of(second.select_one("nav.pages a.previous")["href"]) == {**asked, "page": "1"}
    assert second.select_one("nav.pages a.next") is None
    assert second.find(id="search-page-of").get_text(strip=True) == "Página 2 de 2"


def test_every_field_is_labelled_and_the_filters_are_a_named_group(client):
    page = soup(client.get("/search?q=honey"))
    form = page.find("form", attrs={"role": "search"})
    for field in form.find_all(["input", "select"]):
        if field.get("type") == "hidden":
            continue
        assert form.find("label", attrs={"for": field["id"]}).get_text(strip=True), field["name"]
    assert form.find("fieldset").find("legend").get_text(strip=True) == "Filters"
    assert page.find(id="search-count").get("aria-live") == "polite"


def test_a_result_shows_where_it_is_from_and_its_own_language(client):
    page = soup(client.get("/search?q=miel&uselang=en"))
    [result] = page.select("li.result")
    assert result.select_one(".source").get_text(strip=True) == "Blog: \u2068noticias\u2069"
    title = result.find("h3")
    assert title["lang"] == "es" and title["dir"] == "auto"
    assert str(title.find("a")) == '<a href="https://space.example/es">Las abejas y la <mark>miel</mark></a>'
    excerpt = result.select_one(".excerpt")
    assert excerpt["lang"] == "es" and excerpt.find("mark").get_text() == "miel"
    assert result.select_one(".language").get_text() == "Language: Spanish"
    assert result.select_one(".author").get_text() == "by \u2068Beatriz\u2069"
    assert result.find("time")["datetime"] == "2026-02-03" and result.find("time").get_text() == "February 3, 2026"

    forum = soup(client.get("/search?q=honey&in=forum&order=latest&uselang=es")).select_one("li.result")
    assert forum.select_one(".source").get_text(strip=True) == "Foro"
    assert forum.select_one(".replies").get_text() == "11 respuestas"
    assert forum.select_one(".views").get_text() == "110 visitas"
    assert forum.find("time").get_text() == "12 de enero de 2026"


def test_arabic_is_found_without_its_diacritics_and_marked_as_written(client):
    page = soup(client.get("/search", query_string={"q": "العسل", "uselang": "ar"}))
    [result] = page.select("li.result")
    assert result.find("h3")["lang"] == "ar"
    assert result.find("h3").find("mark").get_text() == "العَسَلُ"
    assert result.select_one(".excerpt mark").get_text() == "العَسَلِ"
    assert page.find(id="search-count").get_text(strip=True) == "نتيجة واحدة"
    assert result.select_one(".replies").get_text() == "ردان" and result.select_one(".views").get_text() == "3 مشاهدات"


# -- nothing someone else wrote is markup ------------------------------------------------------------
def test_hostile_titles_bodies_and_queries_stay_text(client):
    query = '"><script>alert(2)</script> honey'
    resp = client.get("/search", query_string={"q": query, "author": '"><b>x', "order": "oldest"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<script>" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    page = soup(resp)
    assert page.find("input", attrs={"name": "q"})["value"] == query
    assert page.find("input", attrs={"name": "author"})["value"] == '"><b>x'
    assert page.title.get_text().startswith("\u2068" + query + "\u2069")

    page = soup(client.get("/search", query_string={"q": "honey hives"}))
    [hostile] = [li for li in page.select("li.result") if "Mallory" in li.get_text()]
    title = hostile.find("h3")
    assert title.find("a") is None, "a javascript: address is not a link"
    assert title.get_text() == HOSTILE_TITLE
    assert [m.get_text() for m in title.find_all("mark")] == ["Honey", "hives"]
    assert "lang" not in title.attrs and not hostile.select_one(".language")  # not a language code
    assert hostile.select_one(".excerpt").get_text().startswith('honey "><img src=x onerror=alert(1)> <b>bold</b>')
    assert hostile.select_one(".author").get_text() == "by \u2068<i>Mallory</i>\u2069"
    assert "<script>" not in str(page) and "<img" not in str(page) and "<i>" not in str(page)


def test_the_page_may_load_nothing_but_its_own_style(client):
    resp = client.get("/search?q=honey")
    csp = dict(part.strip().split(" ", 1) for part in resp.headers["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'" and csp["form-action"] == "'self'"
    style = soup(resp).find("style").string
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert csp["style-src"] == f"'sha256-{digest}'", "the browser would refuse the page's style"
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Content-Language"] == "en" and "Accept-Language" in resp.headers["Vary"]
    assert not soup(resp).find("script")


# -- languages, hints and messages -------------------------------------------------------------------
def test_arabic_page_is_right_to_left_and_chosen_by_the_browser(client):
    page = soup(client.get("/search?q=honey", headers={"Accept-Language": "ar-EG,ar;q=0.9,en;q=0.5"}))
    assert page.html["lang"] == "ar" and page.html["dir"] == "rtl"
    assert page.find("button", type="submit").get_text(strip=True) == "بحث"
    assert page.find(id="search-count").get_text(strip=True) == "13 نتيجة"
    links = {a["hreflang"]: a for a in page.select("nav.languages a")}
    assert set(links) == {"en", "es"} and links["en"]["dir"] == "ltr"
    assert args_of(links["en"]["href"]) == {"q": "honey", "uselang": "en"}
    assert soup(client.get("/search?q=honey&uselang=es", headers={"Accept-Language": "ar"})).html["lang"] == "es"


@pytest.mark.parametrize("lang, texts", [
    ("en", ["“\u2068order:best\u2069” is not one of order:latest, order:views, order:relevance; it was ignored.",
            "“\u2068ordr\u2069:” is not a filter (did you mean “\u2068order\u2069:”?); it was searched as words.",
            "“\u2068after:yesterday\u2069” is not a date like after:2026-01-31; it was ignored.",
            "No date is both on or after \u2068March 1, 2026\u2069 and before \u2068January 1, 2026\u2069, "
            "so nothing can match."]),
    ("es", ["«\u2068order:best\u2069» no es order:latest, order:views ni order:relevance; se ha ignorado.",
            "«\u2068ordr\u2069:» no es un filtro (¿quisiste decir «\u2068order\u2069:»?); se ha buscado como palabras.",
            "«\u2068after:yesterday\u2069» no es una fecha como after:2026-01-31; se ha ignorado.",
            "Ninguna fecha es a la vez igual o posterior al \u20681 de marzo de 2026\u2069 y anterior al "
            "\u20681 de enero de 2026\u2069, así que nada puede coincidir."]),
    ("ar", ["«\u2068order:best\u2069» ليس order:latest ولا order:views ولا order:relevance، فلم يُؤخذ به.",
            "«\u2068ordr\u2069:» ليس عامل تصفية (هل تقصد «\u2068order\u2069:»؟)، فبُحث عنه ككلمات.",
            "«\u2068after:yesterday\u2069» ليس تاريخًا بصيغة after:2026-01-31، فلم يُؤخذ به.",
            "لا يوجد تاريخ يقع في \u20681 مارس 2026\u2069 أو بعده وقبل \u20681 يناير 2026\u2069 معًا، فلا يمكن أن يطابق شيء."]),
])
def test_hints_are_in_the_members_language(client, lang, texts):
    resp = client.get("/search", query_string={"q": "honey order:best ordr:x after:yesterday after:2026-03-01",
                                               "before": "2026-01-01", "uselang": lang})
    page = soup(resp)
    assert [li.get_text() for li in page.select("#search-hints li")] == texts
    assert page.find(id="search-message").get_text() == {
        "en": "Nothing matches this search.", "es": "Nada coincide con esta búsqueda.",
        "ar": "لا شيء يطابق هذا البحث."}[lang]


def test_numbered_hints_use_the_plural_of_the_language(client):
    words = " ".join(f"w{i}" for i in range(40))
    page = soup(client.get("/search", query_string={"q": words, "uselang": "ar"}))
    assert page.select_one("#search-hints li").get_text() == "لم يُبحث إلا عن أول 32 كلمة."
    page = soup(client.get("/search", query_string={"q": "x" * 600, "uselang": "es"}))
    assert page.select_one("#search-hints li").get_text() == \
        "Solo se leyeron los primeros 500 caracteres de la búsqueda."
    assert page.find("input", attrs={"name": "q"})["value"] == "x" * 500


def test_a_hint_the_page_cannot_read_is_shown_as_the_engine_wrote_it():
    from sync.search.page import hint_message

    assert hint_message("es", "new-code", "something new happened") == "something new happened"
    assert hint_message("es", "bad-order", "a text that changed") == "a text that changed"


def test_a_page_after_the_last_says_how_many_there_are(client):
    page = soup(client.get("/search?q=honey&page=7&uselang=ar"))
    assert page.find(id="search-message").get_text() == "لا توجد إلا 3 صفحات من النتائج."
    assert args_of(page.select_one("nav.pages a.previous")["href"]) == {"q": "honey", "uselang": "ar", "page": "3"}
    en = soup(client.get("/search?q=honey&page=7"))
    assert en.find(id="search-message").get_text() == "There are only 3 pages of results."


@pytest.mark.parametrize("bad", ["0", "-1", "x", "1.5", "٣", "501", "9" * 30])
def test_an_impossible_page_is_a_400_page_saying_why(client, bad):
    resp = client.get("/search", query_string={"q": "honey", "page": bad, "uselang": "es", "in": "blog"})
    assert resp.status_code == 400 and resp.content_type == "text/html; charset=utf-8"
    page = soup(resp)
    assert page.find(id="search-message").get_text() == \
        "El número de página debe ser un número entero entre 1 y 500."
    assert page.find("input", attrs={"name": "q"})["value"] == "honey"  # the form is there to try again
    assert not page.select("li.result")


def test_an_empty_form_searches_nothing(client):
    resp = client.get("/search")
    page = soup(resp)
    assert resp.status_code == 200 and page.find("input", attrs={"name": "q"}).has_attr("autofocus")
    assert page.find(id="search-results") is None and page.title.get_text() == "Search – Wikimedia Space"


# -- OpenSearch ------------------------------------------------------------------------------------------
NS = {"os": "http://a9.com/-/spec/opensearch/1.1/"}


def test_opensearch_description_uses_the_configured_address_not_the_host_header(client):
    resp = client.get("/opensearch.xml", headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    assert resp.status_code == 200
    assert resp.content_type == "application/opensearchdescription+xml; charset=utf-8"
    body = resp.get_data(as_text=True)
    assert "evil.example" not in body
    root = ET.fromstring(resp.data)
    assert root.tag == "{http://a9.com/-/spec/opensearch/1.1/}OpenSearchDescription"
    short = root.find("os:ShortName", NS).text
    assert short == "Wikimedia Space" and len(short) <= 16
    assert root.find("os:InputEncoding", NS).text == "UTF-8"
    assert root.find("os:Description", NS).text == "Blog posts and forum topics of Wikimedia Space"
    urls = {u.get("type"): u.get("template") for u in root.findall("os:Url", NS)}
    assert urls["text/html"] == PUBLIC_URL + "/search?q={searchTerms}"
    assert urls["application/json"] == PUBLIC_URL + "/search.json?q={searchTerms}"
    assert urls["application/opensearchdescription+xml"] == PUBLIC_URL + "/opensearch.xml"


def test_opensearch_follows_the_members_language_and_the_page_links_it(client):
    root = ET.fromstring(client.get("/opensearch.xml", headers={"Accept-Language": "ar"}).data)
    assert root.find("os:ShortName", NS).text == "فضاء ويكيميديا"
    link = soup(client.get("/search", headers={"Host": "evil.example"})).find(
        "link", rel="search", type="application/opensearchdescription+xml")
    assert link["href"] == PUBLIC_URL + "/opensearch.xml" and link["title"] == "Wikimedia Space"


def test_with_search_turned_off_there_is_no_page_and_no_description(settings_file, engine):
    settings_file.write_text(settings_file.read_text() + "search:\n  enabled: false\n")
    client = create_app(config.load(settings_file), engine).test_client()
    assert client.get("/search?q=honey").status_code == 404
    assert client.get("/opensearch.xml").status_code == 404


# -- anything a client sends -------------------------------------------------------------------------
@given(st.dictionaries(st.sampled_from(PARAMS), st.text(max_size=60) | st.binary(max_size=20).map(
    lambda b: b.decode("latin-1")) | st.sampled_from(["٣", "²", "0", "-1", "9" * 25, "ar", "2026-02-30", "\x00"])),
    st.sampled_from(["", "ar", "es-MX,es;q=0.9", "en;q=nan", "*;q=1e999", "\xff"]))
@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@example({"q": '"', "page": "2"}, "")
@example({"q": "\x00", "tags": "\x00,b", "lang": "\x00", "uselang": "\x00"}, "ar")
@example({"q": "ordr:x after:2026-02-30 in:wiki", "after": "2026-03-01", "before": "2026-01-01"}, "es")
@example({"lang": "zh-hant-tw", "in": "FORUM", "order": "Views", "page": "3"}, "")
def test_any_parameters_give_a_page_never_a_5xx(client, params, accept):
    resp = client.get("/search", query_string=params, headers={"Accept-Language": accept} if accept else {})
    page_ok = params.get("page", "") == "" or (params["page"].isascii() and params["page"].isdigit()
                                               and 1 <= int(params["page"]) <= 500)
    assert resp.status_code == (200 if page_ok else 400), resp.data[:500]
    assert resp.content_type == "text/html; charset=utf-8"
    assert soup(resp).find("form", attrs={"role": "search"}) is not None

"""The /search page: the search of sync/search/web.py drawn as HTML, with no script.

A form (the box and the filters as fields) and, below it, one page of results with links to the
pages before and after it, all in the member's language (`uselang`, then Accept-Language, as
the login pages choose it: bridge/i18n.py) and each result marked with its own language. The
hints of sync/search/query.py come with a code and an English text: each code has a message
(`spacebridge-search-hint-<code>`), whose parameters are read back out of the English text, and
a hint this page cannot read is shown as that text. The page runs no script and loads nothing:
its Content-Security-Policy allows its one style sheet (by hash) and nothing else.

Also /opensearch.xml, the OpenSearch 1.1 description (https://github.com/dewitt/opensearch,
"OpenSearch description document") a browser reads to add the Space to its search engines; its
addresses are built from `bridge.public_url`, never from the request's Host header, which any
client may forge.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import xml.etree.ElementTree as ET
from urllib.parse import urlencode, urlsplit

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal
from flask import Response, current_app, render_template, request
from markupsafe import Markup

from bridge import i18n
from sync.search.engines import Page
from sync.search.query import ORDERS, SOURCES, Query
from sync.search.settings import LANGUAGE_CODE, SearchSettings

PREFIX = "spacebridge-search-"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"
OPENSEARCH_TYPE = "application/opensearchdescription+xml"
SHORT_NAME_MAX = 16  # OpenSearch 1.1: "16 or fewer characters of plain text"

# The English texts of sync/search/query.py's hints, with the parts a translation needs as
# groups `a` and `b`: a hint whose text no longer matches is shown as it is (in English).
HINT_TEXTS = {
    "empty-filter": r"'(?P<a>.*):' needs a value; it was ignored",
    "too-many-tags": r"only the first (?P<a>\d+) tags were searched",
    "bad-date": r"'(?P<a>(?P<b>after|before):.*)' is not a date like (?:after|before):2026-01-31; it was ignored",
    "bad-in": r"'(?P<a>in:.*)' is not one of in:blog, in:forum; it was ignored",
    "bad-lang": r"'(?P<a>lang:.*)' is not a language code like lang:ar; it was ignored",
    "bad-order": r"'(?P<a>order:.*)' is not one of order:latest, order:views, order:relevance; it was ignored",
    "unknown-filter": r"'(?P<a>.*):' is not a filter(?: \(did you mean '(?P<b>\w+):'\?\))?; it was searched as words",
    "too-long": r"only the first (?P<a>\d+) characters of the query were read",
    "too-many-terms": r"only the first (?P<a>\d+) words were searched",
    "empty-range": r"no date is both after (?P<a>\d{4}-\d\d-\d\d) and before (?P<b>\d{4}-\d\d-\d\d)",
}
_NUMBER_HINTS = ("too-many-tags", "too-long", "too-many-terms")
_LANGUAGE_CODE = re.compile(LANGUAGE_CODE)


def isolate(text: str) -> str:
    """`text` between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE: a Latin name inside Arabic
    text (and the reverse) keeps its own order and leaves the sentence's alone."""
    return f"\u2068{text}\u2069"


def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(i18n.DEFAULT_LANGUAGE)


def language_name(code: str, lang: str) -> str:
    """The name of language `code` in language `lang` ("Spanish", "español", "الإسبانية"), or the code."""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(_locale(lang))
    except (UnknownLocaleError, ValueError, TypeError):
        name = None
    return name or code


def hint_message(lang: str, code: str, text: str) -> str:
    """The hint in `lang`: its code's message with the parts read from its English text."""
    pattern = HINT_TEXTS.get(code)
    found = re.fullmatch(pattern, text, re.DOTALL) if pattern else None
    if found is None:
        return text
    a, b = found.group("a"), found.groupdict().get("b")
    if code in _NUMBER_HINTS:
        return i18n.message(lang, PREFIX + "hint-" + code, format_decimal(int(a), locale=_locale(lang)))
    if code == "empty-range":
        a, b = (format_date(dt.date.fromisoformat(v), "long", locale=_locale(lang)) for v in (a, b))
        return i18n.message(lang, PREFIX + "hint-" + code, isolate(a), isolate(b))
    if code == "unknown-filter" and b:
        return i18n.message(lang, PREFIX + "hint-unknown-filter-suggestion", isolate(a), isolate(b))
    return i18n.message(lang, PREFIX + "hint-" + code, isolate(a), *((b,) if b else ()))


def _safe_link(url: str) -> str | None:
    """`url` if a member may be sent there (http or https), else None: the page shows no link."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _href(args: dict[str, str], **changes) -> str:
    """This page's address with `args` (empty ones left out) and `changes`."""
    merged = {k: v for k, v in {**args, **changes}.items() if v not in (None, "")}
    path = request.script_root + request.path
    return path + ("?" + urlencode(merged) if merged else "")


def _date_value(value: str) -> str:
    """A field's value as an <input type=date> can show it: a valid YYYY-MM-DD, or nothing."""
    try:
        return dt.date.fromisoformat(value.strip()).isoformat() if re.fullmatch(r"\d{4}-\d\d-\d\d", value.strip()) else ""
    except ValueError:
        return ""


def _results(found: Page, lang: str, t) -> list[dict]:
    locale = _locale(lang)
    number = lambda n: format_decimal(n, locale=locale)  # noqa: E731
    out = []
    for r in found.results:
        code = (r.language or "").lower()
        code = code if _LANGUAGE_CODE.match(code) else ""
        source = (t(PREFIX + "source-forum") if r.source == "forum"
                  else t(PREFIX + "source-blog", isolate(r.site)))
        out.append({
            "url": _safe_link(r.url), "title_html": Markup(r.title_html), "excerpt_html": Markup(r.excerpt),
            "source": r.source, "source_label": source, "site": r.site,
            "author": t(PREFIX + "author", isolate(r.author)) if r.author else None,
            "date_iso": r.created_at.date().isoformat(), "date": format_date(r.created_at.date(), "long", locale=locale),
            "lang": code, "language": t(PREFIX + "language", language_name(code, lang)) if code else None,
            "replies": t(PREFIX + "replies", number(r.replies)) if r.source == "forum" or r.replies else None,
            "views": t(PREFIX + "views", number(r.views)) if r.views else None,
        })
    return out


def _style() -> tuple[Markup, str]:
    """The page's style sheet and its CSP source ('sha256-...')."""
    css = current_app.jinja_env.get_template("search/page.css").render()
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode()
    return Markup(css), f"'sha256-{digest}'"


def _headers(response: Response, lang: str) -> Response:
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def render(settings: SearchSettings, text: str, fields: dict[str, str], *, query: Query | None = None,
           found: Page | None = None, bad_page: bool = False) -> Response:
    """The page: the form filled with what was asked, and `found` (None: nothing was asked, or
    with `bad_page` a page that cannot be one, answered 400)."""
    lang = i18n.negotiate(request.args.get("uselang"), request.accept_languages)
    t = i18n.translator(lang)
    locale = _locale(lang)
    site = t("spacebridge-site-name")
    text = text[:settings.max_query_length]
    uselang = lang if request.args.get("uselang") else None
    args = {"q": text, **fields, "uselang": uselang}

    chosen_lang = fields["lang"].strip().lower()
    languages = [("", t(PREFIX + "lang-any"))] + [(code, language_name(code, lang)) for code in settings.languages]
    if chosen_lang and _LANGUAGE_CODE.match(chosen_lang) and chosen_lang not in settings.languages:
        languages.append((chosen_lang, language_name(chosen_lang, lang)))
    form = {
        "q": text, "tags": fields["tags"], "category": fields["category"], "author": fields["author"],
        "after": _date_value(fields["after"]), "before": _date_value(fields["before"]),
        "in": fields["in"].strip().lower() if fields["in"].strip().lower() in SOURCES else "",
        "order": fields["order"].strip().lower() if fields["order"].strip().lower() in ORDERS else "relevance",
        "lang": chosen_lang, "languages": languages, "uselang": uselang,
    }

    view: dict = {"asked": found is not None, "results": [], "hints": [], "message": None}
    if bad_page:
        view["message"] = t(PREFIX + "bad-page", format_decimal(settings.max_page, locale=locale))
    elif found is not None:
        page, pages = found.page, found.pages
        view.update(
            results=_results(found, lang, t),
            hints=[hint_message(lang, h.code, h.text) for h in found.hints],
            count=t(PREFIX + "count", format_decimal(found.total, locale=locale)),
            page_of=t(PREFIX + "page-of", format_decimal(page, locale=locale), format_decimal(pages, locale=locale))
            if pages > 1 and page <= pages else None,
            previous=_href(args, page=str(min(page - 1, pages))) if page > 1 and pages else None,
            next=_href(args, page=str(page + 1)) if page < pages else None,
            first=found.page_size * (page - 1) + 1,
        )
        if not found.results:
            view["message"] = (t(PREFIX + "only-pages", format_decimal(pages, locale=locale)) if 0 < pages < page
                               else t(PREFIX + "nothing"))

    others = [{"code": code, "name": language_name(code, code), "dir": i18n.direction(code),
               "href": _href({k: v for k, v in args.items() if k != "uselang"}, uselang=code,
                             page=request.args.get("page") if not bad_page else None)}
              for code in i18n.available_languages() if code != lang]
    css, style_source = _style()
    title = t(PREFIX + "pagetitle-query", isolate(text), site) if text.strip() else t(PREFIX + "pagetitle", site)
    html = render_template(
        "search/page.html", lang=lang, dir=i18n.direction(lang), t=t, site=site, title=title, css=css,
        form=form, view=view, others=others, action=request.script_root + request.path,
        opensearch=current_app.extensions["space_bridge"]["settings"].bridge.public_url + "/opensearch.xml",
    )
    response = Response(html, status=400 if bad_page else 200, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=30"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src {style_source}; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'")
    response.headers["X-Frame-Options"] = "DENY"
    # a result links to a blog or the forum: they learn where the member came from, not what was searched
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return _headers(response, lang)


def opensearch() -> Response:
    """The OpenSearch 1.1 description of the search, in the member's language."""
    base = current_app.extensions["space_bridge"]["settings"].bridge.public_url  # never the Host header
    lang = i18n.negotiate(request.args.get("uselang"), request.accept_languages)
    site = i18n.message(lang, "spacebridge-site-name")
    root = ET.Element("OpenSearchDescription", xmlns=OPENSEARCH_NS)
    ET.SubElement(root, "ShortName").text = site[:SHORT_NAME_MAX]
    ET.SubElement(root, "Description").text = i18n.message(lang, PREFIX + "opensearch-description", site)[:1024]
    ET.SubElement(root, "InputEncoding").text = "UTF-8"
    ET.SubElement(root, "Url", type="text/html", method="get", template=base + "/search?q={searchTerms}")
    ET.SubElement(root, "Url", type="application/json", method="get", template=base + "/search.json?q={searchTerms}")
    ET.SubElement(root, "Url", type=OPENSEARCH_TYPE, rel="self", template=base + "/opensearch.xml")
    ET.SubElement(root, "Language").text = "*"
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    response = Response(body, content_type=OPENSEARCH_TYPE + "; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return _headers(response, lang)

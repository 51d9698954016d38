"""`/search.json`, `/search` and `/opensearch.xml`: the search for members, scripts and browsers.

Both searches take the same query string: `q` (the query language, sync/search/query.py), the
same filters as fields (`tags`, `category`, `author`, `after`, `before`, `in`, `lang`, `order`),
and `page`. Whatever a member puts in them is an answer with results, or with none and a plain
message; the filters that could not be read are listed as hints. Only a `page` that cannot be a
page is refused (400, saying why): every other mistake is a member's, and searching is the best
answer. /search is the same search as a page (sync/search/page.py draws it); /opensearch.xml
lets a browser add the Space to its search engines.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, jsonify, request

from sync.search import page as html_page
from sync.search.engines import BaseEngine, Page, Result
from sync.search.query import Query, parse
from sync.search.settings import SearchSettings

FIELDS = ("tags", "category", "author", "after", "before", "in", "lang", "order")
MAX_FIELD = 200  # characters of a field read; a category or tag name is far shorter


@dataclass(frozen=True)
class Asked:
    """What a query string asks: the text of the box, the fields by their form names, the page
    (or why it cannot be one)."""

    text: str  # as typed, uncut: its length decides the "too-long" hint
    fields: dict[str, str]
    page: int | str

    @property
    def anything(self) -> bool:
        """Whether something was asked at all (an empty form is not a search for everything)."""
        return bool(self.text.strip()) or any(v.strip() for v in self.fields.values())


def _clean(value: str) -> str:
    # a lone surrogate cannot be written out as UTF-8 (werkzeug's decoding never makes one, a
    # WSGI server given odd bytes might)
    return value.encode("utf-8", "replace").decode("utf-8") if not value.isascii() else value


def _result(r: Result) -> dict:
    return {
        "source": r.source, "site": r.site, "url": r.url, "title": r.title, "title_html": r.title_html,
        "excerpt_html": r.excerpt, "author": r.author, "language": r.language, "tags": list(r.tags),
        "category": r.category, "created_at": r.created_at.isoformat() + "Z",
        "updated_at": r.updated_at.isoformat() + "Z", "views": r.views, "replies": r.replies,
    }


def _page(raw: str | None, settings: SearchSettings) -> int | str:
    """The page asked for, or why it cannot be one."""
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= settings.max_page:
        return f"page must be a whole number from 1 to {settings.max_page}"
    return int(raw)


def read(args, settings: SearchSettings) -> Asked:
    """The search a query string asks for."""
    return Asked(text=_clean(args.get("q", "")),
                 fields={name: _clean(args.get(name, "")[:MAX_FIELD]) for name in FIELDS},
                 page=_page(args.get("page"), settings))


def run(engine: BaseEngine, settings: SearchSettings, asked: Asked, page: int) -> tuple[Query, Page]:
    """The parsed query and its `page` of results."""
    fields = {("in_" if name == "in" else name): value for name, value in asked.fields.items()}
    query = parse(asked.text, max_length=settings.max_query_length, **fields)
    return query, engine.search(query, page)


def blueprint(engine: BaseEngine, settings: SearchSettings) -> Blueprint:
    bp = Blueprint("search", __name__, template_folder="templates")

    @bp.get("/search.json")
    def search_json():
        asked = read(request.args, settings)
        if isinstance(asked.page, str):
            return jsonify(error=asked.page), 400
        query, found = run(engine, settings, asked, asked.page)
        body = {
            "q": asked.text[:settings.max_query_length], "page": found.page, "page_size": found.page_size,
            "total": found.total, "pages": found.pages, "order": query.order,
            "results": [_result(r) for r in found.results],
            "hints": [{"code": h.code, "text": h.text} for h in found.hints],
        }
        if not found.results:
            body["message"] = ("Nothing matches this search." if asked.page <= max(found.pages, 1)
                               else f"There are only {found.pages} page(s) of results.")
        response = jsonify(body)
        response.headers["Cache-Control"] = "public, max-age=30"
        return response

    @bp.get("/search")
    def search_page():
        asked = read(request.args, settings)
        if isinstance(asked.page, str):
            return html_page.render(settings, asked.text, asked.fields, bad_page=True)
        if not asked.anything:
            return html_page.render(settings, asked.text, asked.fields)
        query, found = run(engine, settings, asked, asked.page)
        return html_page.render(settings, asked.text, asked.fields, query=query, found=found)

    @bp.get("/opensearch.xml")
    def opensearch():
        return html_page.opensearch()

    return bp

"""`/search.json`: the search as JSON, for the /search page, scripts and other sites.

The query string takes `q` (the query language, sync/search/query.py) and the same filters as
fields (`tags`, `category`, `author`, `after`, `before`, `in`, `lang`, `order`), and `page`.
Whatever a member puts in them is an answer with results, or with none and a plain message; the
filters that could not be read are listed as hints. Only a `page` that cannot be a page is
refused (400, saying why): every other mistake is a member's, and searching is the best answer.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from sync.search.engines import BaseEngine, Result
from sync.search.query import parse
from sync.search.settings import SearchSettings

FIELDS = ("tags", "category", "author", "after", "before", "in", "lang", "order")
MAX_FIELD = 200  # characters of a field read; a category or tag name is far shorter


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


def blueprint(engine: BaseEngine, settings: SearchSettings) -> Blueprint:
    bp = Blueprint("search", __name__)

    @bp.get("/search.json")
    def search_json():
        page = _page(request.args.get("page"), settings)
        if isinstance(page, str):
            return jsonify(error=page), 400
        text = request.args.get("q", "")
        fields = {("in_" if name == "in" else name): request.args.get(name, "")[:MAX_FIELD] for name in FIELDS}
        query = parse(text, max_length=settings.max_query_length, **fields)
        found = engine.search(query, page)
        body = {
            "q": text[:settings.max_query_length], "page": found.page, "page_size": found.page_size,
            "total": found.total, "pages": found.pages, "order": query.order,
            "results": [_result(r) for r in found.results],
            "hints": [{"code": h.code, "text": h.text} for h in found.hints],
        }
        if not found.results:
            body["message"] = ("Nothing matches this search." if page <= max(found.pages, 1)
                               else f"There are only {found.pages} page(s) of results.")
        response = jsonify(body)
        response.headers["Cache-Control"] = "public, max-age=30"
        return response

    return bp

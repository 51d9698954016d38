"""What both search engines share: the documents table, the filters, paging and the results.

An engine (engines/sqlite.py, engines/postgresql.py) adds only what differs between the
databases: how the full-text rows are written, and the SQL that matches the terms and scores
them (`Match`). Everything a member filters on is a plain column of `search_documents`, so the
filters, the orders and the paging are one piece of SQL for both.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

import sqlalchemy as sa

from bridge import store
from sync.search import query as query_language
from sync.search.excerpt import excerpt
from sync.search.query import Hint, Query
from sync.search.schema import documents
from sync.search.settings import SearchSettings
from sync.search.text import clean, has_word, normalise

# A mild recency boost: a new document's score is multiplied by 1.5, a month-old one's by 1.25,
# a year-old one's by about 1.04; relevance still decides between a good and a poor match.
RECENCY = "(1.0 + 0.5 / (1.0 + ({age}) / 30.0))"


@dataclass(frozen=True)
class Document:
    """One blog post or forum topic/post as the index holds it; `body` is plain text."""

    source: str  # "blog" | "forum"
    site: str    # the blog's site name; the forum's is "forum"
    remote_id: str
    url: str
    title: str
    body: str
    created_at: dt.datetime
    updated_at: dt.datetime | None = None
    author: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    category: str | None = None
    views: int = 0
    replies: int = 0
    visible: bool = True
    thread: str | None = None  # a forum post's topic id: the topic leaves the index with its posts
    category_ref: str | None = None  # the category's id on its platform (forum id, blog slug)
    #: whether the title's words find the document: a forum reply shows its topic's title, but
    #: only the topic's first post is found by it (else a title word lists every reply)
    title_searchable: bool = True


_TEXT = ("source", "site", "remote_id", "url", "title", "body", "author", "language", "category")


@dataclass(frozen=True)
class Result:
    source: str
    site: str
    remote_id: str
    url: str
    title: str
    title_html: str  # HTML: the title escaped, the matched words in <mark>
    excerpt: str     # HTML: part of the body around the first match, the same way
    author: str | None
    language: str | None
    tags: tuple[str, ...]
    category: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    views: int
    replies: int


@dataclass(frozen=True)
class Page:
    results: list[Result]
    total: int
    page: int
    page_size: int
    hints: tuple[Hint, ...] = field(default=())

    @property
    def pages(self) -> int:
        return (self.total + self.page_size - 1) // self.page_size


@dataclass
class Match:
    """An engine's part of one search: joins, conditions, the score and their parameters."""

    joins: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    score: str = "0.0"
    params: dict = field(default_factory=dict)


def like_pattern(value: str) -> str:
    r"""`value` for `LIKE ... ESCAPE '\'`: its own % and _ are literal."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_terms(query: Query) -> tuple[list[str], list[str]]:
    """The normalised terms to match and to exclude; a term left without a word is dropped (it
    would match nothing, and FTS5 answers an empty phrase with no rows)."""
    keep = [normalise(t) for t in query.terms]
    drop = [normalise(t) for t in query.excluded]
    return [t for t in keep if has_word(t)], [t for t in drop if has_word(t)]


class BaseEngine:
    """index(document), remove(source, site, id), search(query, page) on one database."""

    def __init__(self, engine: sa.Engine, settings: SearchSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or SearchSettings()

    # -- writing ----------------------------------------------------------------------------------
    def index(self, doc: Document) -> None:
        """Add `doc` or replace what the index held for it (its old words leave with it)."""
        now = store.utcnow()
        doc = replace(doc, **{name: clean(getattr(doc, name)) for name in _TEXT if getattr(doc, name) is not None},
                      tags=tuple(clean(t) for t in doc.tags))
        row = {
            "url": doc.url, "title": doc.title, "body": doc.body, "author": doc.author,
            "author_key": query_language.key(doc.author) if doc.author else None,
            "language": (doc.language or None) and doc.language.lower(),
            "tags": "|" + "".join(query_language.key(t) + "|" for t in doc.tags if query_language.key(t)),
            "category": doc.category,
            "category_key": query_language.key(doc.category) if doc.category else None,
            "created_at": doc.created_at, "updated_at": doc.updated_at or doc.created_at,
            "views": doc.views, "replies": doc.replies, "visible": doc.visible, "indexed_at": now,
            "thread": doc.thread, "category_ref": doc.category_ref,
        }
        if doc.source not in query_language.SOURCES:
            raise ValueError(f"a document's source is one of {', '.join(query_language.SOURCES)}, not {doc.source!r}")
        for attempt in (1, 2):
            try:
                with self.engine.begin() as conn:
                    doc_id = self._id(conn, doc.source, doc.site, doc.remote_id)
                    if doc_id is None:
                        doc_id = conn.execute(documents.insert().values(
                            source=doc.source, site=doc.site, remote_id=doc.remote_id, **row)).inserted_primary_key[0]
                    else:
                        conn.execute(documents.update().where(documents.c.id == doc_id).values(**row))
                    self._write(conn, doc_id, normalise(doc.title) if doc.title_searchable else "",
                                normalise(doc.body), doc)
                return
            except sa.exc.IntegrityError:
                # On PostgreSQL two jobs may index one new document at once: the second insert
                # waits for the first and then breaks the unique key; the row is there now, so
                # the second try updates it. (SQLite's BEGIN IMMEDIATE lets no two writers meet.)
                if attempt == 2:
                    raise

    def remove(self, source: str, site: str, remote_id: str) -> bool:
        """Take a document out of the index; False if it was not there."""
        with self.engine.begin() as conn:
            doc_id = self._id(conn, source, site, remote_id)
            if doc_id is None:
                return False
            self._delete(conn, doc_id)
            conn.execute(documents.delete().where(documents.c.id == doc_id))
            return True

    def remove_where(self, source: str, site: str, *, thread: str | None = None, category_ref: str | None = None,
                     keep: set[str] | frozenset[str] = frozenset(), indexed_before: dt.datetime | None = None) -> int:
        """Take out a site's documents of one `thread` (a forum topic), of one category, or those
        not indexed since `indexed_before` (what a full reindex did not see again), except the
        `keep` ids; returns how many left. One transaction: a topic that turned private leaves whole."""
        if thread is None and category_ref is None and indexed_before is None:
            raise ValueError("remove_where needs a thread, a category_ref or indexed_before")
        cond = [documents.c.source == source, documents.c.site == site]
        if thread is not None:
            cond.append(documents.c.thread == thread)
        if category_ref is not None:
            cond.append(documents.c.category_ref == category_ref)
        if indexed_before is not None:
            cond.append(documents.c.indexed_at < indexed_before)
        with self.engine.begin() as conn:
            ids = [row.id for row in conn.execute(sa.select(documents.c.id, documents.c.remote_id).where(*cond))
                   if row.remote_id not in keep]
            for doc_id in ids:
                self._delete(conn, doc_id)
            for start in range(0, len(ids), 500):
                conn.execute(documents.delete().where(documents.c.id.in_(ids[start:start + 500])))
        return len(ids)

    def set_views(self, source: str, site: str, views: dict[str, int]) -> int:
        """Store the view counts of documents already indexed (unknown ids are ignored); returns
        how many rows changed. Views change no words, so the full-text rows are left alone."""
        changed = 0
        with self.engine.begin() as conn:
            for remote_id, count in views.items():
                changed += conn.execute(documents.update().where(
                    documents.c.source == source, documents.c.site == site, documents.c.remote_id == str(remote_id),
                    documents.c.views != int(count)).values(views=int(count))).rowcount
        return changed

    def count(self, source: str | None = None, site: str | None = None) -> int:
        """How many documents the index holds (of a source, of a site)."""
        query = sa.select(sa.func.count()).select_from(documents)
        if source is not None:
            query = query.where(documents.c.source == source)
        if site is not None:
            query = query.where(documents.c.site == site)
        with store.reader(self.engine) as conn:
            return int(conn.execute(query).scalar() or 0)

    @staticmethod
    def _id(conn: sa.Connection, source: str, site: str, remote_id: str) -> int | None:
        return conn.execute(sa.select(documents.c.id).where(
            documents.c.source == source, documents.c.site == site, documents.c.remote_id == remote_id)).scalar()

    def _write(self, conn: sa.Connection, doc_id: int, title: str, body: str, doc: Document) -> None:
        raise NotImplementedError

    def _delete(self, conn: sa.Connection, doc_id: int) -> None:
        raise NotImplementedError

    # -- searching --------------------------------------------------------------------------------
    def _match(self, terms: list[str], excluded: list[str]) -> Match:
        raise NotImplementedError

    def _age_days(self) -> str:
        raise NotImplementedError

    def search(self, query: Query, page: int = 1) -> Page:
        """One page of the visible documents `query` finds, in its order; the same query and page
        give the same results while the index does not change (ties broken by date, then id)."""
        terms, excluded = search_terms(query)
        match = self._match(terms, excluded) if terms or excluded else Match()
        where, params = ["d.visible = :visible"] + match.where, {"visible": True, **match.params}
        for name, column in (("source", "source"), ("language", "language"),
                             ("author", "author_key"), ("category", "category_key")):
            if getattr(query, name):
                where.append(f"d.{column} = :f_{name}")
                params[f"f_{name}"] = getattr(query, name)
        if query.tags:
            for i, tag in enumerate(query.tags):
                params[f"tag{i}"] = f"%|{like_pattern(tag)}|%"
            joined = (" AND " if query.all_tags else " OR ").join(
                f"d.tags LIKE :tag{i} ESCAPE '\\'" for i in range(len(query.tags)))
            where.append(f"({joined})")
        for name, op in (("after", ">="), ("before", "<")):
            if getattr(query, name):
                where.append(f"d.created_at {op} :f_{name}")
                params[f"f_{name}"] = dt.datetime.combine(getattr(query, name), dt.time())
        params["now"] = store.utcnow()
        order = {"latest": "d.created_at DESC, d.id DESC",
                 "views": "d.views DESC, d.created_at DESC, d.id DESC"}.get(
            query.order, "score DESC, d.created_at DESC, d.id DESC")
        # a score is worked out only when it orders the results (BM25 or ts_rank_cd for every
        # match is most of the cost of a common word), and is 0 for every document without terms
        ranked = "score" in order and match.score != "0.0"
        score = f"({match.score}) * {RECENCY.format(age=self._age_days())}" if ranked else "0.0"
        body = f"FROM search_documents d {' '.join(match.joins)} WHERE {' AND '.join(where)}"
        size = self.settings.page_size
        params.update(limit=size, offset=(page - 1) * size)
        # Ranked, one pass over the matches gives the page's ids and the total (count(*) OVER () is
        # computed before LIMIT; a separate count would go over every match a second time); only
        # the page's rows are then read whole, bodies included. By date or views, PostgreSQL finds
        # a page faster by walking the column's index and counts apart with the full-text index
        # (with the count in the same query it walks the whole date index).
        one_pass = ranked or not getattr(self, "count_apart_when_unranked", False)
        select = _text(
            "SELECT d.source, d.site, d.remote_id, d.url, d.title, d.body, d.author, d.language, d.tags,"
            " d.category, d.created_at, d.updated_at, d.views, d.replies, p.score, p.total"
            f" FROM (SELECT d.id AS id, {score} AS score, {'count(*) OVER ()' if one_pass else 'NULL'} AS total"
            f" {body} ORDER BY {order} LIMIT :limit OFFSET :offset) p JOIN search_documents d ON d.id = p.id"
            f" ORDER BY {order.replace('score', 'p.score')}", params
        ).columns(created_at=sa.DateTime, updated_at=sa.DateTime)
        with store.reader(self.engine) as conn:
            rows = conn.execute(select).mappings().all()
            if rows and one_pass:
                total = rows[0]["total"]
            elif page == 1 and not rows:
                total = 0
            else:  # counted apart, or a page past the last (its query saw no row to count)
                total = conn.execute(_text(f"SELECT count(*) {body}", params)).scalar()
        return Page([_result(row, query) for row in rows], total, page, size, query.hints)


def _text(sql: str, params: dict) -> sa.TextClause:
    """`sql` with the `params` it names bound, datetimes as DateTime so that SQLite compares them
    in the format SQLAlchemy stores them."""
    names = set(re.findall(r"(?<![:\w]):(\w+)", sql))
    return sa.text(sql).bindparams(*[
        sa.bindparam(k, v, type_=sa.DateTime) if isinstance(v, dt.datetime) else sa.bindparam(k, v)
        for k, v in params.items() if k in names])


def _result(row, query: Query) -> Result:
    return Result(
        source=row["source"], site=row["site"], remote_id=row["remote_id"], url=row["url"],
        title=row["title"], title_html=excerpt(row["title"], query.terms, length=len(row["title"])),
        excerpt=excerpt(row["body"], query.terms), author=row["author"],
        language=row["language"], tags=tuple(t for t in row["tags"].split("|") if t),
        category=row["category"], created_at=row["created_at"], updated_at=row["updated_at"],
        views=row["views"], replies=row["replies"],
    )

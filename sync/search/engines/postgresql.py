"""Search on PostgreSQL: tsvector with a text-search configuration per language, GIN-indexed.

Each document is stemmed with its language's configuration (the `search.languages` setting;
`simple` for any other), title weight A, body weight B. A query is made with every configuration
in use, each compared only with the documents of its own configuration, so "-running" excludes
the English documents holding "runs" and the Spanish ones holding "running" alike.

Member text reaches PostgreSQL only as bound parameters of phraseto_tsquery(), which reads plain
text and has no syntax to get wrong (https://www.postgresql.org/docs/15/textsearch-controls.html
#TEXTSEARCH-PARSING-QUERIES); the tsquery operators && and !! join the parts
(https://www.postgresql.org/docs/15/functions-textsearch.html). Terms in scripts written without
spaces are matched as substrings of the normalised text with strpos().

Relevance is ts_rank_cd() with weights making a title match count ten times a body match, as on
SQLite (https://www.postgresql.org/docs/15/textsearch-controls.html#TEXTSEARCH-RANKING).
"""

from __future__ import annotations

import sqlalchemy as sa

from sync.search.engines.base import BaseEngine, Document, Match
from sync.search.text import has_unspaced

WEIGHTS = "'{0.1, 0.1, 0.1, 1.0}'"  # D, C, B (body), A (title)
# A tsvector holds at most 1 MB (https://www.postgresql.org/docs/15/textsearch-limitations.html);
# words past this many characters of a body are not indexed.
MAX_BODY = 200_000


class PostgresqlEngine(BaseEngine):
    # By date or views, a page is found by walking that column's index until it is full, and the
    # total by a count that uses the GIN index; in one query with the count, PostgreSQL walks the
    # whole date index and checks each document's tsvector (328 ms against 5 ms + 40 ms for a
    # word found in 4,819 of 60,000 documents, bench/search.py)
    count_apart_when_unranked = True

    def _write(self, conn: sa.Connection, doc_id: int, title: str, body: str, doc: Document) -> None:
        self._delete(conn, doc_id)
        conn.execute(sa.text(
            "INSERT INTO search_fts (document_id, config, tsv, title, body) VALUES (:id, CAST(:config AS regconfig),"
            " setweight(to_tsvector(CAST(:config AS regconfig), :title), 'A')"
            " || setweight(to_tsvector(CAST(:config AS regconfig), :tsv_body), 'B'), :title, :body)"),
            {"id": doc_id, "config": self.settings.config_for(doc.language), "title": title,
             "body": body, "tsv_body": body[:MAX_BODY]})

    def _delete(self, conn: sa.Connection, doc_id: int) -> None:
        conn.execute(sa.text("DELETE FROM search_fts WHERE document_id = :id"), {"id": doc_id})

    def _age_days(self) -> str:
        return "EXTRACT(EPOCH FROM (:now - d.created_at)) / 86400.0"

    def _match(self, terms: list[str], excluded: list[str]) -> Match:
        m = Match(joins=["JOIN search_fts f ON f.document_id = d.id"])
        words = [t for t in terms if not has_unspaced(t)]
        not_words = [t for t in excluded if not has_unspaced(t)]
        scores = []
        for i, term in enumerate(words):
            m.params[f"w{i}"] = term
        for i, term in enumerate(not_words):
            m.params[f"x{i}"] = term
        if words or not_words:
            branches, ranks = [], []
            for c, config in enumerate(self.settings.configs()):
                m.params[f"cfg{c}"] = config
                cfg = f"CAST(:cfg{c} AS regconfig)"
                parts = [f"phraseto_tsquery({cfg}, :w{i})" for i in range(len(words))]
                parts += [f"!! phraseto_tsquery({cfg}, :x{i})" for i in range(len(not_words))]
                tsquery = " && ".join(parts)
                # Words this configuration drops as stop words ("they" in english) leave an empty
                # tsquery, which && drops in turn: "they -nothing" would be "-nothing" alone and
                # match every document without "nothing". A branch whose wanted words all vanish
                # matches nothing, as "they" alone does.
                wanted = " && ".join(parts[:len(words)])
                guard = f" AND numnode({wanted}) > 0" if words else ""
                branches.append(f"(f.config = {cfg}{guard} AND f.tsv @@ ({tsquery}))")
                ranks.append(f"WHEN {cfg} THEN ts_rank_cd({WEIGHTS}, f.tsv, {tsquery})")
            m.where.append("(" + " OR ".join(branches) + ")")
            scores.append(f"(CASE f.config {' '.join(ranks)} ELSE 0.0 END)")
        for i, term in enumerate(t for t in terms if has_unspaced(t)):
            m.params[f"u{i}"] = term
            m.where.append(f"(strpos(f.title, :u{i}) > 0 OR strpos(f.body, :u{i}) > 0)")
            scores.append(f"(CASE WHEN strpos(f.title, :u{i}) > 0 THEN 1.0 ELSE 0.1 END)")
        for i, term in enumerate(t for t in excluded if has_unspaced(t)):
            m.params[f"v{i}"] = term
            m.where.append(f"NOT (strpos(f.title, :v{i}) > 0 OR strpos(f.body, :v{i}) > 0)")
        m.score = " + ".join(scores) or "0.0"
        return m

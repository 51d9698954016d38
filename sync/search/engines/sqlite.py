"""Search on SQLite: FTS5 with BM25 ranking (the embedded default).

Terms become FTS5 strings, each in double quotes with its own quotes doubled, the only quoting
FTS5 has (https://www.sqlite.org/fts5.html#fts5_strings): inside a string every character is
text, so no member's input can be read as FTS5 syntax (NEAR, AND, *, ^, column filters), and a
query can never be an FTS5 syntax error. Several strings side by side must all match
(https://www.sqlite.org/fts5.html#fts5_boolean_operators: implicit AND); a string of several
words is a phrase.

Terms in scripts written without spaces are matched in `search_fts_trigram` as substrings: with
MATCH from three characters on (its index), and with instr() below that, because a shorter string
matches no row in a trigram full-text query (https://www.sqlite.org/fts5.html#the_trigram_tokenizer),
and SQLite 3.40.1 answers LIKE with fewer than three characters on that table with no rows too.

Relevance is bm25() with the title weighted ten times the body
(https://www.sqlite.org/fts5.html#the_bm25_function; it returns lower values for better matches,
hence the minus sign).
"""

from __future__ import annotations

import sqlalchemy as sa

from sync.search.engines.base import BaseEngine, Document, Match
from sync.search.text import has_unspaced

WEIGHTS = "10.0, 1.0"  # title, body


def fts_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class SqliteEngine(BaseEngine):
    def _write(self, conn: sa.Connection, doc_id: int, title: str, body: str, doc: Document) -> None:
        self._delete(conn, doc_id)
        # Only a document holding a character of a script written without spaces can match a
        # term searched as a substring (has_unspaced): the others stay out of the trigram table,
        # which would otherwise index every three characters of every text, most of the index.
        tables = ("search_fts", "search_fts_trigram") if has_unspaced(title) or has_unspaced(body) else ("search_fts",)
        for table in tables:
            conn.execute(sa.text(f"INSERT INTO {table} (rowid, title, body) VALUES (:id, :title, :body)"),
                         {"id": doc_id, "title": title, "body": body})

    def _delete(self, conn: sa.Connection, doc_id: int) -> None:
        for table in ("search_fts", "search_fts_trigram"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE rowid = :id"), {"id": doc_id})

    def _age_days(self) -> str:
        return "julianday(:now) - julianday(d.created_at)"

    def _match(self, terms: list[str], excluded: list[str]) -> Match:
        m = Match()
        scores = []
        words = [t for t in terms if not has_unspaced(t)]
        substrings = [t for t in terms if has_unspaced(t)]
        long_ = [t for t in substrings if len(t) >= 3]
        short = [t for t in substrings if len(t) < 3]
        for name, table, chosen in (("w", "search_fts", words), ("t", "search_fts_trigram", long_)):
            if chosen:
                m.joins.append(f"JOIN (SELECT rowid AS id, -bm25({table}, {WEIGHTS}) AS rank FROM {table}"
                               f" WHERE {table} MATCH :{name}_match) {name} ON +{name}.id = d.id")
                m.params[f"{name}_match"] = " ".join(fts_string(t) for t in chosen)
                scores.append(f"{name}.rank")
        if short:
            m.joins.append("JOIN search_fts_trigram s ON +s.rowid = d.id")
            for i, term in enumerate(short):
                m.where.append(f"(instr(s.title, :s{i}) > 0 OR instr(s.body, :s{i}) > 0)")
                # bm25 values are small; a title hit outweighs a body hit ten to one, and a body
                # saying the term more often ranks higher, saturating as bm25 does: 0.1 for one
                # mention, 0.15 for three, never 0.2
                tf = f"((length(s.body) - length(replace(s.body, :s{i}, ''))) / length(:s{i}))"
                scores.append(f"(CASE WHEN instr(s.title, :s{i}) > 0 THEN 1.0 ELSE 0.0 END + 0.2 * {tf} / ({tf} + 1.0))")
                m.params[f"s{i}"] = term
        for i, term in enumerate(excluded):
            m.params[f"x{i}"] = term
            if has_unspaced(term):
                m.where.append(f"d.id NOT IN (SELECT rowid FROM search_fts_trigram WHERE"
                               f" instr(title, :x{i}) > 0 OR instr(body, :x{i}) > 0)")
            else:
                m.params[f"x{i}"] = fts_string(term)
                m.where.append(f"d.id NOT IN (SELECT rowid FROM search_fts WHERE search_fts MATCH :x{i})")
        m.score = " + ".join(scores) or "0.0"
        return m

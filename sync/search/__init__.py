"""One search for the whole Space: blog posts and forum topics in one index (issue 15).

The pieces, each in its own module: `settings` (the `search:` section), `query` (the member's
query language, parsed without I/O), `text` (the normalisation both index and query go
through), `schema` (the documents table), `engines/` (SQLite FTS5 and PostgreSQL full-text, one
interface), `excerpt` (highlighted excerpts), `documents` (what of a post or topic is indexed:
only what anyone may read), `feed` (keeping the index in step with the blogs and the forum),
`reindex` and `commands` (`space-bridge search reindex`), `web` and `page` (/search.json,
/search, /opensearch.xml) and `feature` (the plug).
"""

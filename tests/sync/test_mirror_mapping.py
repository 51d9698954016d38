"""sync/mapping.py on SQLite and PostgreSQL: the mapping table's writes and the reads that
reconcile and backfill make of it."""

from __future__ import annotations

import datetime as dt

from sync import mapping

UTC = dt.timezone.utc


def _put(engine, post_id: int, topic_id: int, *, site: str = "news", **over):
    values = dict(site=site, post_id=post_id, external_id=f"wp-{site}-{post_id}", topic_id=topic_id,
                  topic_url=f"https://f/t/x/{topic_id}", title="A title of twenty chars", fingerprint="f" * 64,
                  listed=True, wp_modified=dt.datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC), note=None)
    return mapping.put(engine, **{**values, **over})


def test_put_writes_the_row_and_returns_it(engine):
    row = _put(engine, 7, 70, title="T" * 1200, note="recovered by external_id")
    assert row["topic_id"] == 70 and row["external_id"] == "wp-news-7" and row["listed"] is True
    assert len(row["title"]) == 1000  # the column's width
    assert row["wp_modified"] == dt.datetime(2026, 11, 25, 10, 0, 0)  # kept in UTC without a zone
    assert row["note"] == "recovered by external_id"


def test_put_again_overwrites_and_keeps_created_at(engine):
    first = _put(engine, 7, 70)
    again = _put(engine, 7, 71, listed=False, fingerprint="")
    assert again["topic_id"] == 71 and again["listed"] is False and again["fingerprint"] == ""
    assert again["created_at"] == first["created_at"]
    with engine.connect() as conn:
        assert mapping.by_topic(conn, 70) is None
        assert mapping.by_topic(conn, 71)["post_id"] == 7


def test_save_changes_some_columns_and_a_missing_modified_time_keeps_the_stored_one(engine):
    before = _put(engine, 7, 70)
    mapping.save(engine, "news", 7, listed=False, wp_modified=None)
    with engine.connect() as conn:
        row = mapping.by_post(conn, "news", 7)
    assert row["listed"] is False and row["wp_modified"] == before["wp_modified"]
    assert row["updated_at"] >= before["updated_at"]
    later = dt.datetime(2026, 11, 25, 12, 30, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    mapping.save(engine, "news", 7, title="New title", wp_modified=later)
    with engine.connect() as conn:
        row = mapping.by_post(conn, "news", 7)
    assert row["title"] == "New title" and row["wp_modified"] == dt.datetime(2026, 11, 25, 10, 30, 0)


def test_reads_of_reconcile_and_backfill_are_per_site(engine):
    _put(engine, 7, 70)
    _put(engine, 8, 80, wp_modified=None)
    _put(engine, 7, 90, site="other")
    with engine.connect() as conn:
        assert mapping.post_ids(conn, "news") == {7, 8}
        assert mapping.post_ids(conn, "nowhere") == set()
        assert mapping.modified_times(conn, "news", [7, 8, 9]) == {7: dt.datetime(2026, 11, 25, 10, 0, 0), 8: None}
        assert mapping.modified_times(conn, "news", []) == {}


def test_naive_is_utc_without_a_zone():
    assert mapping.naive(None) is None
    plain = dt.datetime(2026, 1, 2, 3, 4, 5)
    assert mapping.naive(plain) is plain
    assert mapping.naive(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5)))) == \
        dt.datetime(2026, 1, 2, 8, 4, 5)

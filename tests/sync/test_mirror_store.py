"""The mirror's tables on SQLite and PostgreSQL: checkpoints, mapping look-ups, job keys."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from bridge.store import mirror_topics, utcnow
from sync import mapping
from sync.mirror import enqueue_post, post_job_key
from sync.reconcile import get_checkpoint, modified_key, set_checkpoint


def test_checkpoints_round_trip(engine):
    assert get_checkpoint(engine, "reconcile:news") is None
    when = dt.datetime(2026, 11, 25, 10, 0, 5, tzinfo=dt.timezone.utc)
    set_checkpoint(engine, "reconcile:news", when)
    set_checkpoint(engine, "reconcile:news", when + dt.timedelta(seconds=5))
    assert get_checkpoint(engine, "reconcile:news") == when + dt.timedelta(seconds=5)
    assert get_checkpoint(engine, "reconcile:other") is None


def test_mapping_by_post_and_by_topic(engine):
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(sa.insert(mirror_topics).values(
            site="news", post_id=7, external_id="wp-news-7", topic_id=70, topic_url="https://f/t/x/70", title="T" * 20,
            fingerprint="f" * 64, listed=True, wp_modified=now, note=None, created_at=now, updated_at=now))
    with engine.connect() as conn:
        assert mapping.by_post(conn, "news", 7)["topic_id"] == 70
        assert mapping.by_topic(conn, 70)["post_id"] == 7
        assert mapping.by_post(conn, "other", 7) is None


def test_same_post_version_queues_one_job(engine):
    with engine.begin() as conn:
        first = enqueue_post(conn, "news", 7, "2026-11-25 10:00:00", "publish", "webhook", "edit")
        again = enqueue_post(conn, "news", 7, "2026-11-25 10:00:00", "publish", "reconcile", "edit")
        other = enqueue_post(conn, "news", 7, "2026-11-25 10:00:00", "publish", "webhook", "status:trash>publish")
    assert first[1] and not again[1] and first[0] == again[0] and other[1]
    assert post_job_key("news", 7, "m", "publish") != post_job_key("news", 7, "m", "trash")
    assert modified_key(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)) == "2026-01-02 03:04:05"

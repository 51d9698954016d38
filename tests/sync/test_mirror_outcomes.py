"""What the mirror's jobs tell the outbox when a platform fails: the one mapping of
bridge/clients/errors.py (retryable: tried again; else dead at once), for WordPress as for
Discourse. Without the stack: the clients are stand-ins that raise."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from bridge.clients.discourse import DiscourseError, DiscourseRateLimited
from bridge.clients.wordpress import WordPressAuthError, WordPressError, WordPressUnavailable
from bridge.outbox import Job, PermanentFailure, RetryLater
from bridge.store import mirror_topics, utcnow
from sync.mirror import KIND_POST, Mirror, mirror_handlers
from sync.replies import KIND_REPLIES, handle_replies

from mirror_harness import unit_settings


def _job(kind: str, payload: dict) -> Job:
    now = dt.datetime.now(dt.timezone.utc)
    return Job(id=1, kind=kind, key="k", payload=payload, state="running", attempts=1, run_after=now, created_at=now)


class _Raising:
    """A client whose every call raises `exc`."""

    def __init__(self, exc: Exception):
        self.exc = exc
        self.url = "https://forum.example"

    def __getattr__(self, name):
        def call(*args, **kwargs):
            raise self.exc
        return call


def _mirror(tmp_path, db_url, engine, *, wordpress=None, forum=None) -> Mirror:
    mirror = Mirror(unit_settings(tmp_path, db_url), engine, forum=forum or _Raising(AssertionError("no forum call")))
    mirror.wordpress = lambda site: wordpress
    return mirror


@pytest.mark.parametrize("exc, outcome", [
    (WordPressUnavailable("down", status=503), WordPressUnavailable),
    (WordPressAuthError("refused", status=401), PermanentFailure),
    (WordPressError("odd", code="rest_weird", status=400), PermanentFailure),
])
def test_post_job_wordpress_failure(tmp_path, db_url, engine, exc, outcome):
    mirror = _mirror(tmp_path, db_url, engine, wordpress=_Raising(exc))
    with pytest.raises(outcome) as raised:
        mirror.handle_post(_job(KIND_POST, {"site": "news", "post_id": 7}))
    assert str(exc) in str(raised.value)
    if outcome is not PermanentFailure:
        assert raised.value is exc  # retried by the outbox with its own back-off


def test_post_job_of_a_site_no_longer_configured_is_dead(tmp_path, db_url, engine):
    mirror = _mirror(tmp_path, db_url, engine)
    with pytest.raises(PermanentFailure, match="gone"):
        mirror.handle_post(_job(KIND_POST, {"site": "gone", "post_id": 7}))


@pytest.mark.parametrize("exc, outcome", [
    (DiscourseRateLimited("slow down", status=429, retry_after=7.0), RetryLater),
    (DiscourseError("refused", status=403), PermanentFailure),
])
def test_replies_job_forum_failure(tmp_path, db_url, engine, exc, outcome):
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(sa.insert(mirror_topics).values(
            site="news", post_id=7, external_id="wp-news-7", topic_id=70, topic_url="https://f/t/x/70", title="T" * 20,
            fingerprint="f" * 64, listed=True, wp_modified=now, note=None, created_at=now, updated_at=now))
    mirror = _mirror(tmp_path, db_url, engine, forum=_Raising(exc))
    handlers = mirror_handlers(mirror.settings, engine)
    assert set(handlers) == {KIND_POST, KIND_REPLIES}
    with pytest.raises(outcome) as raised:
        handle_replies(mirror, _job(KIND_REPLIES, {"topic_id": 70}))
    if outcome is RetryLater:
        assert raised.value.seconds == 7.0


def test_replies_job_of_an_unmapped_topic_does_nothing(tmp_path, db_url, engine):
    handle_replies(_mirror(tmp_path, db_url, engine), _job(KIND_REPLIES, {"topic_id": 404}))

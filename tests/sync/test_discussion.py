"""The editor panel's bridge side (sync/discussion.py): the signed status and link routes, against
the Discourse double (no WordPress needed: the link route writes the mapping and queues the jobs
that write the post's meta; the worker is not run here)."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
import yaml

from bridge import config, store
from bridge.app import create_app
from bridge.clients.discourse import DiscourseClient
from bridge.outbox import Outbox
from bridge.store import mirror_topics, reader
from sync import mapping
from sync.render import external_id
from sync.wordpress_hooks import SIGNATURE_HEADER, sign

SECRET = "discussion-webhook-secret-0123456789abcdef"  # >= 32: bridge/secret_policy.py
OTHER_SECRET = "another-sites-webhook-secret-0123456789abc"


@pytest.fixture
def bridge(tmp_path, db_url, forum):
    data = {
        "bridge": {"public_url": "http://127.0.0.1:8090", "secret_key": "discussion-test-secret-key-0123456789abcdef",
                   "database_url": db_url, "state_dir": str(tmp_path), "log_format": "console"},
        "discourse": {"url": forum.url, "api_key": forum.create_api_key(all_users=True), "api_username": "system",
                      "connect_secret": "discussion-connect-secret-0123456789abcdef",
                      "webhook_secret": "discussion-forum-webhook-secret-0123456789"},
        "wordpress": {"sites": [
            {"name": "news", "url": "http://wp.test", "username": "bridge", "password": "Xk3pQz7mLr2vNw8tHy5cBd4f",
             "webhook_secret": SECRET},
            {"name": "other", "url": "http://wp2.test", "username": "bridge", "password": "Xk3pQz7mLr2vNw8tHy5cBd4g",
             "webhook_secret": OTHER_SECRET}]},
    }
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    settings = config.load(path)
    engine = store.make_engine(db_url)
    store.upgrade(engine)
    app = create_app(settings, engine)
    yield app.test_client(), engine, Outbox(engine, settings.outbox)
    engine.dispose()


def _post(http, route: str, body: dict, *, secret: str = SECRET, t: float | None = None, site: str = "news",
          header: str | None = None):
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json",
               SIGNATURE_HEADER: header if header is not None else sign(raw, secret, t)}
    return http.post(f"/webhooks/wordpress/{site}/discussion/{route}", data=raw, headers=headers)


def _topic(forum, title: str) -> int:
    client = DiscourseClient(forum.url, forum.api_key, requests_per_minute=100000)
    return client.create_topic(title, "The first post of a topic from before the migration, long enough.").topic_id


def _rows(engine) -> list[tuple]:
    with reader(engine) as conn:
        return [tuple(r) for r in conn.execute(sa.select(mirror_topics.c.site, mirror_topics.c.post_id,
                                                         mirror_topics.c.topic_id, mirror_topics.c.external_id))]


@pytest.mark.parametrize("how", ["forged", "unsigned", "stale", "other-site-secret", "tampered"])
def test_unsigned_or_forged_link_is_refused_and_changes_nothing(bridge, forum, how):
    http, engine, outbox = bridge
    topic_id = _topic(forum, f"A migrated discussion to refuse {how}")
    body = {"post_id": 7, "topic_id": topic_id, "user": "editor"}
    if how == "forged":
        r = _post(http, "link", body, header=f"t={int(time.time())},v1={'0' * 64}")
    elif how == "unsigned":
        r = _post(http, "link", body, header="")
    elif how == "stale":
        r = _post(http, "link", body, t=time.time() - 3600)
    elif how == "other-site-secret":
        r = _post(http, "link", body, secret=OTHER_SECRET)
    else:  # signed for another topic, sent with this one
        raw = json.dumps({**body, "topic_id": topic_id + 1}).encode()
        r = _post(http, "link", body, header=sign(raw, SECRET))
    assert r.status_code == 401, r.json
    assert r.json["error"] == "invalid signature"
    assert _rows(engine) == []
    assert outbox.list() == []


def test_unsigned_status_is_refused(bridge):
    http, _engine, _outbox = bridge
    r = _post(http, "status", {"post_id": 7}, secret=OTHER_SECRET)
    assert r.status_code == 401


def test_unknown_topic_is_refused_with_a_clear_error(bridge):
    http, engine, outbox = bridge
    r = _post(http, "link", {"post_id": 7, "topic_id": 987654, "user": "editor"})
    assert r.status_code == 404
    assert r.json["error"].startswith("there is no topic 987654 on the forum")
    assert _rows(engine) == []
    assert outbox.list() == []


def test_link_records_the_mapping_and_queues_the_jobs_that_write_meta_and_topic(bridge, forum):
    http, engine, outbox = bridge
    topic_id = _topic(forum, "A discussion from before the migration")
    r = _post(http, "link", {"post_id": 7, "topic_id": topic_id, "user": "editor"})
    assert r.status_code == 200, r.json
    assert r.json["linked"] is True and r.json["changed"] is True and r.json["topic_id"] == topic_id
    assert r.json["topic_url"].startswith(forum.url) and r.json["topic_url"].endswith(f"/{topic_id}")
    assert _rows(engine) == [("news", 7, topic_id, external_id("news", 7))]
    with reader(engine) as conn:
        row = mapping.by_post(conn, "news", 7)
    assert row["note"] == "linked to an existing topic by editor"
    assert row["fingerprint"] == ""  # the next mirror job brings the topic in step
    jobs = {j.kind: j for j in outbox.list()}
    assert sorted(jobs) == ["mirror.post", "mirror.replies"]
    assert jobs["mirror.replies"].payload["topic_id"] == topic_id  # it writes the post's meta
    assert jobs["mirror.post"].payload == {"site": "news", "post_id": 7, "source": "link", "hint": {}}
    assert {j.concurrency_key for j in jobs.values()} == {mapping.concurrency_key("news", 7)}
    assert sorted(r.json["jobs"]) == sorted(j.id for j in jobs.values())


def test_link_is_idempotent(bridge, forum):
    http, engine, outbox = bridge
    topic_id = _topic(forum, "A discussion linked twice over")
    body = {"post_id": 8, "topic_id": topic_id, "user": "editor"}
    first = _post(http, "link", body)
    again = _post(http, "link", body)  # the same request replayed, or the operator clicking twice
    assert first.status_code == again.status_code == 200
    assert again.json == {"linked": True, "changed": False, "topic_id": topic_id,
                          "topic_url": first.json["topic_url"], "jobs": []}
    assert _rows(engine) == [("news", 8, topic_id, external_id("news", 8))]
    assert len(outbox.list()) == 2


def test_relink_to_another_topic_replaces_the_row_and_queues_again(bridge, forum):
    http, engine, outbox = bridge
    old, new = _topic(forum, "The first discussion of a post"), _topic(forum, "The discussion it should have")
    assert _post(http, "link", {"post_id": 9, "topic_id": old}).status_code == 200
    r = _post(http, "link", {"post_id": 9, "topic_id": new, "user": "admin"})
    assert r.status_code == 200 and r.json["changed"] is True
    assert _rows(engine) == [("news", 9, new, external_id("news", 9))]
    with reader(engine) as conn:
        assert mapping.by_post(conn, "news", 9)["note"] == f"linked to an existing topic by admin (was topic {old})"
    assert len(outbox.list()) == 4


def test_a_topic_of_another_post_is_refused(bridge, forum):
    http, engine, outbox = bridge
    topic_id = _topic(forum, "A discussion that already has its post")
    assert _post(http, "link", {"post_id": 10, "topic_id": topic_id}).status_code == 200
    r = _post(http, "link", {"post_id": 11, "topic_id": topic_id})
    assert r.status_code == 409
    assert r.json["error"] == f"topic {topic_id} is already the discussion of post 10 on news"
    assert [row[1] for row in _rows(engine)] == [10]


@pytest.mark.parametrize("body", [{"post_id": 7}, {"post_id": 7, "topic_id": "seven"}, {"post_id": 0, "topic_id": 3},
                                  {"post_id": 7, "topic_id": 3, "user": "<script>"}])
def test_malformed_link_requests_are_refused(bridge, body):
    http, engine, outbox = bridge
    r = _post(http, "link", body)
    assert r.status_code == 400
    assert _rows(engine) == [] and outbox.list() == []


def test_status_follows_the_mapping_and_the_posts_latest_mirror_job(bridge, forum):
    http, engine, outbox = bridge

    def state(post_id=12):
        r = _post(http, "status", {"post_id": post_id})
        assert r.status_code == 200, r.json
        return r.json

    assert state()["state"] == "not_yet" and state()["topic_url"] is None
    topic_id = _topic(forum, "A discussion whose state is shown")
    _post(http, "link", {"post_id": 12, "topic_id": topic_id, "user": "editor"})
    shown = state()
    assert shown["state"] == "pending" and shown["job"]["state"] == "pending"  # the mirror job is queued
    assert shown["topic_id"] == topic_id and shown["note"] == "linked to an existing topic by editor"
    post_job = next(j for j in outbox.list() if j.kind == "mirror.post")
    with engine.begin() as conn:
        conn.execute(sa.update(store.outbox_jobs).where(store.outbox_jobs.c.id == post_job.id)
                     .values(state="dead", last_error="Discourse said 500"))
    shown = state()
    assert shown["state"] == "failed" and shown["job"]["last_error"] == "Discourse said 500"
    with engine.begin() as conn:
        conn.execute(sa.update(store.outbox_jobs).where(store.outbox_jobs.c.id == post_job.id).values(state="done"))
    assert state()["state"] == "published"
    mapping.save(engine, "news", 12, listed=False)
    assert state()["state"] == "unlisted"
    assert state(13)["state"] == "not_yet"  # another post's jobs and row are not this one's

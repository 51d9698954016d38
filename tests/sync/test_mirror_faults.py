"""Faults: the bridge down while publishing, a worker killed after the forum's answer,
Discourse failing for a while, a lost mapping table."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from bridge.store import mirror_topics
from mirror_harness import ForumRequests, write_wp_constants
from sync.reconcile import reconcile_all

pytestmark = pytest.mark.stack
HERE = Path(__file__).resolve().parent


def _title(prefix="Fault test"):
    return f"{prefix} {uuid.uuid4().hex[:8]} for the Space blog"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bridge_down_while_publishing_then_reconcile(mirror_env):
    env = mirror_env
    write_wp_constants(f"http://127.0.0.1:{_free_port()}/webhooks/wordpress/{env.site_name}", env.webhook_secret)
    wp = env.wp()
    started = time.perf_counter()
    post = wp.create_post(_title(), "<p>Published while the bridge is down.</p>", status="publish")
    elapsed = time.perf_counter() - started
    assert elapsed < 5  # saved at normal speed (the bench measures the ratio)
    time.sleep(0.3)
    assert env.outbox.list() == [] and env.topics_for(post.id) == []
    assert reconcile_all(env.settings, env.engine) >= 1
    env.drain(until=lambda: len(env.topics_for(post.id)) == 1)
    # a second reconcile finds nothing new (the bridge's own meta write is not an edit)
    assert reconcile_all(env.settings, env.engine) == 0


def test_worker_killed_after_create_makes_no_duplicate(mirror_env):
    env = mirror_env
    write_wp_constants(None, None)
    post = env.wp().create_post(_title("Killed worker"), "<p>The worker dies after the forum's answer.</p>",
                                status="publish")
    reconcile_all(env.settings, env.engine)
    proc = subprocess.run([sys.executable, str(HERE / "mirror_killed_worker.py"), str(env.config_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    assert len(env.topics_for(post.id)) == 1
    with env.engine.connect() as conn:
        assert conn.execute(sa.select(mirror_topics)).first() is None  # the mapping write never happened
    time.sleep(env.settings.outbox.lease_seconds + 0.5)  # the dead worker's lease expires
    env.drain(until=lambda: env.outbox.counts().get("done") == 1)
    assert len(env.topics_for(post.id)) == 1
    with env.engine.connect() as conn:
        row = conn.execute(sa.select(mirror_topics)).mappings().one()
    assert row["topic_id"] == env.topics_for(post.id)[0]["id"]
    assert env.wp().get_meta(post.id).topic_id == row["topic_id"]


def test_lost_mapping_table_recovers_topic_by_external_id(mirror_env):
    env = mirror_env
    wp = env.wp()
    post = wp.create_post(_title("Restored database"), "<p>The database is restored from an old backup.</p>",
                          status="publish")
    env.wait_for_jobs(1)
    env.drain(until=lambda: len(env.topics_for(post.id)) == 1)
    with env.engine.begin() as conn:
        conn.execute(sa.delete(mirror_topics))
    wp.update_post(post.id, title=_title("Restored database, edited"))
    env.wait_for_jobs(2)
    env.drain()
    topics = env.topics_for(post.id)
    assert len(topics) == 1 and "edited" in topics[0]["title"]


def test_a_create_refused_because_the_topic_exists_adopts_it(mirror_env, monkeypatch):
    """The mapping table says the post has no topic but the forum has one (another process's
    job, a restored database): the create is refused for its external id and the job adopts the
    topic; the look-up by external id is made only then, never before a create."""
    env = mirror_env
    wp = env.wp()
    post = wp.create_post(_title("Made meanwhile"), "<p>Another job made the topic in between.</p>",
                          status="publish")
    env.wait_for_jobs(1)
    env.drain(until=lambda: len(env.topics_for(post.id)) == 1)
    with env.engine.begin() as conn:
        conn.execute(sa.delete(mirror_topics))  # this bridge does not know the topic yet
    forum = env.handlers["mirror.post"].__self__.forum
    calls = []
    for name in ("get_topic_by_external_id", "create_topic"):
        real = getattr(forum, name)
        monkeypatch.setattr(forum, name, lambda *a, _real=real, _name=name, **kw: calls.append(_name) or _real(*a, **kw))
    wp.update_post(post.id, title=_title("Made meanwhile, edited"))
    env.wait_for_jobs(2)
    env.drain()
    assert env.outbox.counts().get("dead", 0) == 0
    topics = env.topics_for(post.id)
    assert len(topics) == 1 and "edited" in topics[0]["title"]
    assert calls[:2] == ["create_topic", "get_topic_by_external_id"]
    with env.engine.connect() as conn:
        assert conn.execute(sa.select(mirror_topics.c.topic_id)).scalar_one() == topics[0]["id"]


def test_discourse_failing_500_then_429_topic_appears_once(stack, forum, tmp_path):
    from faulty_proxy import FaultyProxy
    from mirror_harness import MirrorEnv

    proxy = FaultyProxy(forum.url, [500] * 6 + [429] * 8)
    env = MirrorEnv(stack, forum, tmp_path, forum_url=proxy.url)
    try:
        env.point_wordpress_here()
        post = env.wp().create_post(_title("Forum trouble"), "<p>Published while the forum is failing.</p>",
                                    status="publish", tags=["outage"])
        env.wait_for_jobs(1)
        env.drain(timeout=90, until=lambda: env.outbox.counts().get("done", 0) >= 1)
        assert not proxy.plan  # every fault was served
        assert {s for _, _, s in proxy.seen} >= {500, 429}
        topics = env.topics_for(post.id)
        assert len(topics) == 1
        assert env.outbox.counts().get("dead", 0) == 0
        assert forum.violations() == []
    finally:
        write_wp_constants(None, None)
        env.close()
        proxy.close()


def test_publish_and_quick_edits_on_a_slow_forum_make_one_topic_with_the_last_title(stack, forum, tmp_path):
    """Four versions of a post queued within a second while every forum request takes 0.4 s:
    without one-job-per-post, two jobs both look the external id up (404), both create, and the
    second create is refused ("External has already been taken") until its job dies."""
    from faulty_proxy import FaultyProxy
    from mirror_harness import MirrorEnv

    from bridge.outbox import Worker

    proxy = FaultyProxy(forum.url, [], delay=0.4)
    env = MirrorEnv(stack, forum, tmp_path, forum_url=proxy.url)
    env.worker = Worker(env.outbox, env.handlers, threads=4)
    try:
        env.point_wordpress_here()
        env.start_worker()
        wp = env.wp()
        title = _title("Quick edits")
        post = wp.create_post(title, "<p>Published, then edited three times at once.</p>", status="publish")
        for n in (1, 2, 3):
            wp.update_post(post.id, title=f"{title} (edit {n})")
        env.wait_for_jobs(2)  # versions saved in one second share a job
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (env.outbox.counts().get("pending") or env.outbox.counts().get("running")):
            time.sleep(0.1)
        counts = env.outbox.counts()
        assert counts.get("dead", 0) == 0, [(j.kind, j.last_error) for j in env.outbox.list(state="dead")]
        assert counts.get("done", 0) >= 2
        topics = env.topics_for(post.id)
        assert len(topics) == 1
        assert env.discourse().get_topic(topics[0]["id"]).title.endswith("(edit 3)")
    finally:
        write_wp_constants(None, None)
        env.close()
        proxy.close()


@pytest.fixture
def forum_requests(mirror_env):
    recorder = ForumRequests(mirror_env.forum.url)
    yield recorder
    recorder.close()


def test_a_new_post_costs_the_forum_one_create(mirror_env, forum_requests):
    """With the forum as `discourse setup` leaves it (embed_unlisted off), each new post is one
    POST /posts.json carrying its title, category, tags, external id and embed URL; no look-up
    before it, no read-back after it."""
    env = mirror_env
    env.forum.set_site_settings(embed_unlisted=False)
    forum_requests.sent.clear()
    wp = env.wp()
    posts = [wp.create_post(_title("One request"), f"<p>Post {i} of three, each one forum request.</p>",
                            status="publish", tags=["one-request"]) for i in range(3)]
    env.wait_for_jobs(3)
    env.drain(until=lambda: all(len(env.topics_for(p.id)) == 1 for p in posts))
    # per process, not per topic: the forum's settings and its categories (slug -> id), read once
    once = [("GET", "/admin/site_settings.json"), ("GET", "/categories.json")]
    sent = forum_requests.calls()
    assert sorted(r for r in sent if r in once) == sorted(once)
    assert [r for r in sent if r not in once] == [("POST", "/posts.json")] * 3
    for p in posts:
        [topic] = env.topics_for(p.id)
        assert topic["visible"] and topic["tags"] == ["one-request"]
        assert topic["embed_url"] == p.permalink


def test_topic_left_unlisted_by_embed_unlisted_is_listed(mirror_env, forum_requests):
    """A forum with embed_unlisted on (Discourse's default before PR #26222, 2024) creates a topic
    that has an embed_url unlisted until its first reply (lib/post_creator.rb): the mirror, having
    read the setting, reads the new topic back and lists it."""
    env = mirror_env
    env.forum.set_site_settings(embed_unlisted=True)
    try:
        post = env.wp().create_post(_title("Embedded"), "<p>A topic Discourse would leave unlisted.</p>",
                                    status="publish")
        env.wait_for_jobs(1)
        env.drain(until=lambda: len(env.topics_for(post.id)) == 1)
        [topic] = env.topics_for(post.id)
        assert topic["visible"]
        assert any(m == "PUT" and path.startswith(f"/t/{topic['id']}/status") for m, path in forum_requests.calls())
        notes = [n for j in env.outbox.list() for n in j.payload.get("notes", [])]
        assert any("embed_unlisted" in n for n in notes)
    finally:
        env.forum.set_site_settings(embed_unlisted=False)


def test_reconcile_is_scheduled_and_mirror_kinds_registered(mirror_env):
    from bridge import jobs

    class Recorder:
        def __init__(self):
            self.jobs = {}

        def every(self, seconds, func, name):
            self.jobs[name] = (seconds, func)

    rec = Recorder()
    jobs.schedule(rec, mirror_env.settings, mirror_env.engine)
    assert rec.jobs["mirror-reconcile"][0] == mirror_env.settings.mirror.reconcile_interval_seconds
    assert {"mirror.post", "mirror.replies"} <= set(jobs.handlers(mirror_env.settings, mirror_env.engine))

"""The forum's side of the index over the real pipeline: the Discourse double's web hooks (real
payload shapes) -> the bridge's /webhooks/discourse -> outbox -> `search.*` jobs reading the forum
-> the index, on SQLite and PostgreSQL. What a member can find is checked through /search.json."""

from __future__ import annotations

import uuid

import pytest
import yaml
from mirror_harness import BridgeServer

from bridge import config, jobs
from bridge.app import create_app
from bridge.clients.discourse import DiscourseUnavailable
from bridge.outbox import Outbox, Worker
from sync.search import reindex as ri
from sync.search.feed import ForumFeed

LONG = "enough words here for the forum to take this post as it is"


class Forum:
    """The bridge (search on, the forum's web hook pointed at it) and helpers to write to the forum."""

    def __init__(self, forum, settings_file, engine, hook: bool = True):
        self.forum, self.engine = forum, engine
        secret = uuid.uuid4().hex
        data = yaml.safe_load(settings_file.read_text())
        data["discourse"] = {"url": forum.url, "api_key": forum.api_key, "connect_secret": "connect-" + secret,
                             "webhook_secret": secret, "requests_per_minute": 100000}
        data["search"] = {"enabled": True, "site_languages": {"forum": "en"}}
        data["relay"] = {"category_cache_seconds": 0}
        settings_file.write_text(yaml.safe_dump(data))
        self.settings = config.load(settings_file)
        self.app = create_app(self.settings, engine)
        self.client = self.app.test_client()
        self.server = BridgeServer(self.app).start()
        if hook:
            forum.add_webhook(f"{self.server.url}/webhooks/discourse", secret, wildcard=True)
        self.outbox = Outbox(engine, self.settings.outbox)
        self.worker = Worker(self.outbox, jobs.handlers(self.settings, engine), threads=1)

    def post(self, **body) -> dict:
        r = self.forum.request("POST", "/posts.json", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    def category(self, name, **extra) -> int:
        r = self.forum.request("POST", "/categories.json", json={"name": name, **extra})
        assert r.status_code == 200, r.text
        return r.json()["category"]["id"]

    def settle(self) -> None:
        assert self.forum.wait_for_web_hooks(20)
        for _ in range(200):
            if not self.worker.run_once() and not self.outbox.counts().get("pending"):
                break
        assert not self.outbox.counts().get("dead"), self.outbox.list(limit=5)

    def found(self, q: str) -> list[dict]:
        resp = self.client.get("/search.json", query_string={"q": q})
        assert resp.status_code == 200
        return resp.json["results"]

    def close(self):
        self.server.stop()


@pytest.fixture
def space(forum, settings_file, engine):
    s = Forum(forum, settings_file, engine)
    yield s
    s.close()


def word() -> str:
    return "w" + uuid.uuid4().hex[:10]


def test_a_reply_is_found_and_a_whisper_a_deleted_post_and_a_message_are_not(space, forum):
    opening, reply, whisper, secret = word(), word(), word(), word()
    topic = space.post(title=f"Meetup notes {opening}", raw=f"{LONG} {opening}")
    answer = space.post(topic_id=topic["topic_id"], raw=f"{LONG} {reply}")
    space.post(topic_id=topic["topic_id"], raw=f"{LONG} {whisper}", whisper=True)
    space.post(title=f"A private word {secret}", raw=f"{LONG} {secret}", archetype="private_message",
               target_recipients="system")
    space.settle()

    [first] = space.found(opening)
    assert first["source"] == "forum" and first["url"].endswith(f"/{topic['topic_id']}")
    assert first["language"] == "en" and first["replies"] >= 1
    [second] = space.found(reply)
    assert second["url"].endswith(f"/{topic['topic_id']}/2") and "<mark>" in second["excerpt_html"]
    assert space.found(whisper) == [] and space.found(secret) == []

    assert forum.request("DELETE", f"/posts/{answer['id']}.json").status_code == 200
    space.settle()
    assert space.found(reply) == []
    assert len(space.found(opening)) == 1


def test_unlisted_moved_to_a_restricted_category_or_deleted_a_topic_leaves_with_all_its_posts(space, forum):
    key, staff_only = word(), space.category(f"Moderators {word()}", permissions={"staff": 1})
    topic = space.post(title=f"Budget talk {key}", raw=f"{LONG} {key}")
    space.post(topic_id=topic["topic_id"], raw=f"{LONG} {key} again")
    space.settle()
    assert len(space.found(key)) == 2

    tid = topic["topic_id"]
    assert forum.request("PUT", f"/t/{tid}/status.json", json={"status": "visible", "enabled": "false"}).status_code == 200
    space.settle()
    assert space.found(key) == []
    assert forum.request("PUT", f"/t/{tid}/status.json", json={"status": "visible", "enabled": "true"}).status_code == 200
    space.settle()
    assert len(space.found(key)) == 2

    assert forum.request("PUT", f"/t/-/{tid}.json", json={"category_id": staff_only}).status_code == 200
    space.settle()
    assert space.found(key) == []

    other = word()
    gone = space.post(title=f"Short lived {other}", raw=f"{LONG} {other}")
    space.settle()
    assert len(space.found(other)) == 1
    assert forum.request("DELETE", f"/t/{gone['topic_id']}.json").status_code == 200
    space.settle()
    assert space.found(other) == []


def test_a_category_made_private_takes_its_topics_out_and_opened_again_brings_them_back(space, forum):
    key = word()
    cat = space.category(f"Open {key}")
    space.post(title=f"Garden plans {key}", raw=f"{LONG} {key}", category=cat)
    space.settle()
    [hit] = space.found(key)
    assert hit["category"].startswith("Open")

    r = forum.request("PUT", f"/categories/{cat}.json", json={"name": f"Open {key}", "permissions": {"staff": 1}})
    assert r.status_code == 200, r.text
    space.settle()
    assert space.found(key) == []

    r = forum.request("PUT", f"/categories/{cat}.json", json={"name": f"Open {key}", "permissions": {"everyone": 1}})
    assert r.status_code == 200, r.text
    space.settle()
    assert len(space.found(key)) == 1


def test_reconcile_finds_a_topic_whose_web_hook_was_lost(forum, settings_file, engine):
    quiet = Forum(forum, settings_file, engine, hook=False)
    try:
        key = word()
        quiet.post(title=f"Nobody told the bridge {key}", raw=f"{LONG} {key}")
        assert quiet.found(key) == []
        assert ForumFeed(quiet.settings, engine).reconcile() >= 1
        quiet.settle()
        assert len(quiet.found(key)) == 1
    finally:
        quiet.close()


def test_reindex_stopped_midway_goes_on_from_where_it_was_and_drops_what_is_gone(forum, settings_file, engine):
    quiet = Forum(forum, settings_file, engine, hook=False)
    try:
        keys = [word() for _ in range(3)]
        topics = [quiet.post(title=f"Archive {k}", raw=f"{LONG} {k}") for k in keys]
        stale = word()
        doomed = quiet.post(title=f"Removed later {stale}", raw=f"{LONG} {stale}")
        feed = ForumFeed(quiet.settings, engine)
        feed.index_topic(doomed["topic_id"])
        assert len(quiet.found(stale)) == 1
        assert forum.request("DELETE", f"/t/{doomed['topic_id']}.json").status_code == 200  # no web hook heard

        ours = sorted(t["topic_id"] for t in topics)
        calls = []
        real = feed.index_topic

        def failing(topic_id, post_id=None):
            calls.append(topic_id)
            if topic_id == ours[1] and calls.count(topic_id) == 1:
                raise DiscourseUnavailable("the forum went away")
            return real(topic_id, post_id)

        feed.index_topic = failing
        run = ri.begin(engine, "forum:forum")
        ids = [i for i in ri.forum_topic_ids(feed, run) if i in ours]
        with pytest.raises(DiscourseUnavailable):
            ri.reindex_forum(quiet.settings, engine, feed, run, ids)
        [row] = ri.under_way(engine)
        assert row["position"] == str(ours[0])
        assert len(quiet.found(keys[topics.index(next(t for t in topics if t["topic_id"] == ours[0]))])) == 1

        again = ri.begin(engine, "forum:forum")
        assert again.resumed and again.position == str(ours[0])
        rest = [i for i in ri.forum_topic_ids(feed, again) if i in ours]
        assert rest == ours[1:]  # the first topic is not read again
        ri.reindex_forum(quiet.settings, engine, feed, again, rest)
        assert ri.under_way(engine) == []
        assert all(len(quiet.found(k)) == 1 for k in keys)
        assert quiet.found(stale) == []  # the finished run did not see it again
    finally:
        quiet.close()


def test_the_reindex_command_fills_the_index_and_says_what_it_did(forum, settings_file, engine):
    from click.testing import CliRunner

    from bridge.cli import main

    quiet = Forum(forum, settings_file, engine, hook=False)
    try:
        key = word()
        quiet.post(title=f"Before the bridge {key}", raw=f"{LONG} {key}")
        result = CliRunner().invoke(main, ["--config", str(settings_file), "search", "reindex", "--source", "forum"])
        assert result.exit_code == 0, result.output
        assert "forum: listing topics" in result.output and "post(s) in the index" in result.output
        assert len(quiet.found(key)) == 1
        assert ri.under_way(engine) == []

        wrong = CliRunner().invoke(main, ["--config", str(settings_file), "search", "reindex", "--source", "forum",
                                          "--site", "news"])
        assert wrong.exit_code != 0 and "--site names a blog" in wrong.output
    finally:
        quiet.close()


def test_the_reindex_command_refuses_when_search_is_off(settings_file):
    from click.testing import CliRunner

    from bridge.cli import main

    settings_file.write_text(settings_file.read_text() + "search:\n  enabled: false\n")
    result = CliRunner().invoke(main, ["--config", str(settings_file), "search", "reindex"])
    assert result.exit_code == 1 and "search is not enabled" in result.output


def test_the_periodic_look_goes_on_past_a_blog_that_cannot_be_reached(forum, settings_file, engine, monkeypatch,
                                                                     record_logs):
    from sync.search import feed

    logs = record_logs(feed)

    data = yaml.safe_load(settings_file.read_text())
    data["wordpress"] = {"sites": [{"name": "down", "url": "http://127.0.0.1:9", "username": "bridge",
                                    "password": "Xk3p Qz7m Lr2v Nw8t Hy5c Bd4f",
                                    "webhook_secret": "wordpress-webhook-secret-6f5e4d3c2b1a0f9e"}]}
    settings_file.write_text(yaml.safe_dump(data))
    quiet = Forum(forum, settings_file, engine, hook=False)
    try:
        key = word()
        quiet.post(title=f"Seen by the periodic look {key}", raw=f"{LONG} {key}")
        feed.reconcile_all(quiet.settings, engine)
        assert [e["site"] for e in logs if e["event"] == "search.reconcile_failed"] == ["down"]
        quiet.settle()
        assert len(quiet.found(key)) == 1  # the forum was still looked at
    finally:
        quiet.close()

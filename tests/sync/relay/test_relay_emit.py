"""Emitters: the mirror (post.published / post.updated) and the forum's web hook (topics, replies,
flags, suspensions) queue relay jobs; without relay rules nothing is queued."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from bridge.app import create_app
from sync.relay.settings import RelaySettings
from sync import webhooks
from sync.mirror import Mirror
from sync.relay.deliver import DELIVER

pytestmark = pytest.mark.stack

RELAY = {"targets": [{"name": "wiki-news", "kind": "wiki", "options": {"page": "Space/News"}},
                     {"name": "irc-mods", "kind": "irc", "private": True}],
         "rules": [{"events": ["*"], "targets": ["wiki-news", "irc-mods"]}]}


def _relay_jobs(env):
    return sorted((j.payload["event"]["type"], j.payload["target"], j.payload["event"]["id"])
                  for j in env.outbox.list(kind=DELIVER))


def test_mirror_emits_published_then_updated(mirror_env):
    env = mirror_env
    settings = env.settings.model_copy(update={"relay": RelaySettings.model_validate(RELAY)})
    mirror = Mirror(settings, env.engine)
    wp = env.wp()
    post = wp.create_post(f"Relay emit test {uuid.uuid4().hex[:8]} for the Space",
                          "<p>Something worth telling the wiki and IRC.</p>", status="publish")
    assert mirror.sync_post(env.site, post.id).action == "created"
    jobs = _relay_jobs(env)
    assert [(t, target) for t, target, _ in jobs] == [("post.published", "irc-mods"), ("post.published", "wiki-news")]
    assert jobs[0][2] == f"wp:{env.site_name}:{post.id}:published"
    assert mirror.sync_post(env.site, post.id).action == "unchanged"
    assert len(_relay_jobs(env)) == 2
    time.sleep(1.1)  # WordPress's modification time has one-second precision
    wp.update_post(post.id, title=f"Relay emit test {uuid.uuid4().hex[:8]} edited")
    assert mirror.sync_post(env.site, post.id).action == "updated"
    types = [t for t, _, _ in _relay_jobs(env)]
    assert types.count("post.updated") == 2
    # the mirror without relay rules queues nothing
    before = len(_relay_jobs(env))
    wp.update_post(post.id, title=f"Relay emit test {uuid.uuid4().hex[:8]} again")
    Mirror(env.settings, env.engine).sync_post(env.site, post.id)
    assert len(_relay_jobs(env)) == before


def _hook(client, secret, event_name, payload):
    body = json.dumps(payload).encode()
    return client.post("/webhooks/discourse", data=body, headers={
        "X-Discourse-Event": event_name, "X-Discourse-Event-Type": event_name.split("_")[0],
        "X-Discourse-Event-Signature": webhooks.sign(body, secret), "Content-Type": "application/json"})


def test_discourse_web_hook_emits_topic_reply_flag_suspension(mirror_env):
    env = mirror_env
    settings = env.settings.model_copy(update={"relay": RelaySettings.model_validate(RELAY)})
    client = create_app(settings, env.engine).test_client()
    secret = env.discourse_webhook_secret
    tid = 900000 + int(uuid.uuid4().int % 1000)
    # category 1: the double's Uncategorized, public (read from its GET /categories.json)
    assert _hook(client, secret, "topic_created", {"topic": {"id": tid, "title": "A forum topic", "slug": "a",
                                                              "archetype": "regular", "visible": True,
                                                              "category_id": 1}}).status_code == 200
    _hook(client, secret, "post_created", {"post": {"id": 5, "post_number": 2, "topic_id": tid, "username": "bo",
                                                    "post_type": 1, "topic_archetype": "regular", "category_id": 1,
                                                    "topic_title": "A forum topic", "cooked": "<p>hi</p>"}})
    _hook(client, secret, "reviewable_created", {"reviewable": {"id": 77, "type": "ReviewableFlaggedPost", "topic_id": tid}})
    _hook(client, secret, "user_suspended", {"user": {"id": 3, "username": "troll", "suspended_till": "2030-01-01"}})
    # the same delivery again (Discourse retries): no new jobs
    _hook(client, secret, "topic_created", {"topic": {"id": tid, "title": "A forum topic", "slug": "a", "archetype": "regular"}})
    jobs = _relay_jobs(env)
    assert [(t, target) for t, target, _ in jobs] == [
        ("flag.created", "irc-mods"), ("reply.created", "irc-mods"), ("reply.created", "wiki-news"),
        ("topic.created", "irc-mods"), ("topic.created", "wiki-news"), ("user.suspended", "irc-mods")]
    flag = next(j for j in env.outbox.list(kind=DELIVER) if j.payload["event"]["type"] == "flag.created")
    assert flag.payload["event"]["url"] == f"{str(settings.discourse.url).rstrip('/')}/review/77"
    # a forged one queues nothing
    r = client.post("/webhooks/discourse", data=b'{"topic": {"id": 1}}', headers={
        "X-Discourse-Event": "topic_created", "X-Discourse-Event-Type": "topic",
        "X-Discourse-Event-Signature": "sha256=" + "0" * 64})
    assert r.status_code == 401 and len(_relay_jobs(env)) == len(jobs)

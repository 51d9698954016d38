"""The mirror end to end: the real WordPress of the local stack (with the space-bridge-mirror
mu-plugin), the Discourse double, and the bridge served over HTTP so web hooks really flow."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from bridge.store import mirror_topics
import sqlalchemy as sa
from mirror_harness import PROFILES

pytestmark = pytest.mark.stack
FORUM_PROFILES = PROFILES  # every Discourse release the double plays (conftest.py)


def _uniq(prefix: str = "Mirror test") -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]} about the Space community"


def _topic(env, post_id: int) -> dict:
    topics = env.topics_for(post_id)
    assert len(topics) == 1, topics
    return topics[0]


def _first_post_raw(env, topic: dict) -> str:
    d = env.discourse()
    t = d.get_topic(topic["id"])
    return d.get_post(t.first_post_id).raw


def test_publish_over_rest_edit_trash_republish(mirror_env):
    env = mirror_env
    wp = env.wp("rest")
    title = _uniq()
    post = wp.create_post(title, "<p>Hello <a href=\"/about/\">about</a> the Space.</p>" * 3, status="publish",
                          categories=["events"], tags=["Wikimedia", "community"])
    env.wait_for_jobs(1)  # the mu-plugin's web hook, not reconcile
    env.drain(until=lambda: len(env.topics_for(post.id)) == 1)
    topic = _topic(env, post.id)
    d = env.discourse()
    info = d.get_topic(topic["id"])
    assert info.title == title
    assert info.category_id == d.category_by_slug("events").id
    assert set(info.tags) == {"wikimedia", "community"}
    assert info.visible
    raw = _first_post_raw(env, topic)
    assert post.permalink in raw and "Continue reading" in raw
    assert f"{env.stack['wordpress']['url']}/about/" in raw  # links made absolute
    meta = wp.get_meta(post.id)
    assert meta.topic_id == topic["id"] and meta.topic_url.endswith(f"/{topic['id']}")

    # the bridge's own meta write is not an edit: nothing more happens on the forum
    version = d.get_post(info.first_post_id).version
    env.drain()
    assert d.get_post(info.first_post_id).version == version

    # edit: title and body follow
    wp.update_post(post.id, title=title + " (updated)", content="<p>New text of the post, longer than before.</p>")
    env.wait_for_jobs(2)
    env.drain(until=lambda: d.get_topic(topic["id"]).title.endswith("(updated)"))
    assert "New text of the post" in _first_post_raw(env, topic)

    # trash: unlisted, never deleted; re-publish: listed again
    wp.trash_post(post.id)
    env.drain(until=lambda: not d.get_topic(topic["id"]).visible)
    wp.update_post(post.id, status="publish")
    env.drain(until=lambda: d.get_topic(topic["id"]).visible)
    assert len(env.topics_for(post.id)) == 1
    assert env.forum.violations() == []


def test_publish_over_xmlrpc_gets_one_topic(mirror_env):
    env = mirror_env
    wp = env.wp("xmlrpc")
    post = wp.create_post(_uniq("XML-RPC post"), "<p>Written with a desktop client, over XML-RPC.</p>",
                          status="publish", tags=["xmlrpc"])
    env.wait_for_jobs(1)
    env.drain(until=lambda: len(env.topics_for(post.id)) == 1)
    topic = _topic(env, post.id)
    info = env.discourse().get_topic(topic["id"])
    assert info.category_id == env.discourse().category_by_slug("blog").id  # default_category
    assert info.tags == ("xmlrpc",)


def test_draft_is_not_mirrored_until_published(mirror_env):
    env = mirror_env
    wp = env.wp()
    post = wp.create_post(_uniq("Draft post"), "<p>Not ready yet, still being written.</p>", status="draft")
    time.sleep(0.5)
    env.drain()
    assert env.topics_for(post.id) == []
    wp.update_post(post.id, status="publish")
    env.drain(until=lambda: len(env.topics_for(post.id)) == 1)


def test_scheduled_post_is_mirrored_when_it_goes_live(mirror_env):
    import datetime as dt

    env = mirror_env
    wp = env.stack["wordpress"]
    auth = (wp["admin_user"], wp["app_password"])
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    r = requests.post(f"{wp['rest_url']}/wp/v2/posts", auth=auth, timeout=30,
                      json={"title": _uniq("Scheduled post"), "content": "<p>Goes live later, at its time.</p>",
                            "status": "future", "date_gmt": later})
    assert r.status_code == 201 and r.json()["status"] == "future", r.text
    post_id = r.json()["id"]
    env.wait_for_jobs(1)
    env.drain()
    assert env.topics_for(post_id) == []  # `future` is not in the site's statuses
    # What WordPress's cron does at the post's time (publish it, dated now):
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    r = requests.post(f"{wp['rest_url']}/wp/v2/posts/{post_id}", auth=auth, timeout=30,
                      json={"status": "publish", "date_gmt": now})
    assert r.json()["status"] == "publish", r.text
    env.drain(until=lambda: len(env.topics_for(post_id)) == 1)

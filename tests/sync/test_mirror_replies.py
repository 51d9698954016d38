"""Replies back: a reply on the forum reaches the post's meta and the post's page on WordPress."""

from __future__ import annotations

import html
import uuid

import pytest
import requests

pytestmark = pytest.mark.stack


def _published_and_mirrored(env, title: str, content: str):
    """A post published on the blog, its topic made on the forum: (blog client, post, topic id)."""
    env.listen_to_forum()
    wp = env.wp()
    post = wp.create_post(f"{title} {uuid.uuid4().hex[:8]} for the Space", content, status="publish")
    env.wait_for_jobs(1)
    env.drain(until=lambda: len(env.topics_for(post.id)) == 1)
    return wp, post, env.topics_for(post.id)[0]["id"]


def test_reply_appears_in_meta_and_on_the_post_page(mirror_env):
    env = mirror_env
    wp, post, topic_id = _published_and_mirrored(env, "Replies test", "<p>Tell us what you think about this post.</p>")
    d = env.discourse()
    text = f"A thoughtful reply number {uuid.uuid4().hex[:6]} from the forum."
    d.create_reply(topic_id, text)
    assert env.forum.wait_for_web_hooks(10)
    env.drain(until=lambda: (wp.get_meta(post.id).reply_count or 0) == 1)
    meta = wp.get_meta(post.id)
    assert meta.reply_count == 1
    [reply] = meta.replies
    assert reply["excerpt"] == text and reply["username"] == "system"
    assert reply["url"].startswith(env.forum.url) and reply["url"].endswith("/2")
    assert reply["avatar"].startswith("http")

    page = requests.get(post.permalink, timeout=30)
    assert page.status_code == 200
    body = html.unescape(page.text)
    assert "Join the discussion" in body and text in body and "1 reply" in body
    assert meta.topic_url in body

    # an edited reply is shown edited; a second reply counts
    second = d.create_reply(topic_id, "Another reply, a little later, from the forum.")
    d.update_post(second.id, "Another reply, edited after a moment on the forum.")
    assert env.forum.wait_for_web_hooks(10)
    env.drain(until=lambda: (wp.get_meta(post.id).reply_count or 0) == 2)
    replies = wp.get_meta(post.id).replies
    assert replies[0]["excerpt"].startswith("Another reply, edited")  # newest first
    # the bridge's meta writes did not edit the topic
    assert env.discourse().get_post(env.discourse().get_topic(topic_id).first_post_id).version == 1


def test_a_reply_deleted_on_the_forum_leaves_the_post_page(mirror_env):
    env = mirror_env
    wp, post, topic_id = _published_and_mirrored(env, "Deleted reply test", "<p>Moderators may remove replies.</p>")
    d = env.discourse()
    kept_text = f"A reply that stays, number {uuid.uuid4().hex[:6]}, from the forum."
    gone_text = f"A reply a moderator removes, number {uuid.uuid4().hex[:6]}."
    d.create_reply(topic_id, kept_text)
    gone = d.create_reply(topic_id, gone_text)
    assert env.forum.wait_for_web_hooks(10)
    env.drain(until=lambda: (wp.get_meta(post.id).reply_count or 0) == 2)

    r = env.forum.request("DELETE", f"/posts/{gone.id}.json")  # as the forum's moderator would
    assert r.status_code == 200, r.text
    assert env.forum.wait_for_web_hooks(10)
    env.drain(until=lambda: (wp.get_meta(post.id).reply_count or 0) == 1)

    [reply] = wp.get_meta(post.id).replies
    assert reply["excerpt"] == kept_text
    body = html.unescape(requests.get(post.permalink, timeout=30).text)
    assert kept_text in body and gone_text not in body and "1 reply" in body


def test_forged_discourse_web_hook_is_refused(mirror_env):
    env = mirror_env
    r = requests.post(f"{env.server.url}/webhooks/discourse", data=b'{"post": {"topic_id": 1}}',
                      headers={"X-Discourse-Event": "post_created", "X-Discourse-Event-Type": "post",
                               "X-Discourse-Event-Signature": "sha256=" + "0" * 64}, timeout=10)
    assert r.status_code == 401
    assert env.outbox.list() == []

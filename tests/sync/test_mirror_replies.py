"""Replies back: a reply on the forum reaches the post's meta and the post's page on WordPress."""

from __future__ import annotations

import html
import uuid

import pytest
import requests
from bs4 import BeautifulSoup

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


# The lightbox CookedPostProcessor writes around an uploaded photo (spec/lib/cooked_post_processor_spec.rb
# "generates overlay information"; lib/cooked_processor_mixin.rb add_lightbox!).
LIGHTBOX = ('<p><div class="lightbox-wrapper"><a class="lightbox" href="/uploads/default/original/1X/5d0b9b07.png" '
            'data-download-href="/uploads/default/5d0b9b07" title="meetup-photo.png"><img src="/uploads/default/'
            'optimized/1X/5d0b9b07_2_690x388.png" alt="meetup-photo" width="690" height="388"><div class="meta">'
            '<svg class="fa d-icon d-icon-far-image svg-icon" aria-hidden="true"><use href="#far-image"></use></svg>'
            '<span class="filename">meetup-photo.png</span><span class="informations">1920×1080 245 KB</span>'
            '<svg class="fa d-icon d-icon-discourse-expand svg-icon" aria-hidden="true"><use href="#discourse-expand">'
            '</use></svg></div></a></div></p>')


def test_a_reply_with_a_quote_and_a_photo_reads_as_its_own_words(mirror_env):
    env = mirror_env
    wp, post, topic_id = _published_and_mirrored(env, "Excerpt test", "<p>Should the meetup move to Thursday?</p>")
    d = env.discourse()
    quoted = f"Quoted words from the first post {uuid.uuid4().hex[:6]}"
    own = f"Thursday suits me, I <3 meetups {uuid.uuid4().hex[:6]}; here is the photo from last year:"
    reply = d.create_reply(topic_id, f'[quote="system, post:1, topic:{topic_id}"]\n{quoted}\n[/quote]\n\n{own}')
    # Discourse's post-processing then wraps the uploaded photo in its lightbox
    cooked = env.forum.request("GET", f"/posts/{reply.id}.json").json()["cooked"]
    assert 'aside class="quote no-group"' in cooked and quoted in cooked  # the double cooked the quote
    r = env.forum.request("POST", "/__double__/post_process", json={"post_id": reply.id, "cooked": cooked + LIGHTBOX},
                          auth=False)
    assert r.status_code == 200, r.text
    assert env.forum.wait_for_web_hooks(10)
    env.drain(until=lambda: (wp.get_meta(post.id).reply_count or 0) == 1)

    [meta_reply] = wp.get_meta(post.id).replies
    assert meta_reply["excerpt"] == own

    page = requests.get(post.permalink, timeout=30)
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    [shown] = soup.select(".space-bridge-reply .space-bridge-excerpt")
    assert shown.get_text() == own  # the reply's words, as text: "<3" shown, escaped
    assert "I &lt;3 meetups" in page.text
    discussion = soup.select_one(".space-bridge-discussion").get_text()
    for absent in (quoted, "1920×1080", "245 KB", "meetup-photo.png", "system:"):
        assert absent not in discussion

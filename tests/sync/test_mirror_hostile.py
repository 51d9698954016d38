"""Hostile posts: each yields one valid topic, and what was changed is noted on the job."""

from __future__ import annotations

import uuid

import pytest
from mirror_harness import on_every_profile

pytestmark = pytest.mark.stack


def _mirror(env, title: str, content: str, **kw):
    post = env.wp().create_post(title, content, status="publish", **kw)
    env.wait_for_jobs(1)
    env.drain(until=lambda: len(env.topics_for(post.id)) == 1)
    assert env.outbox.counts().get("dead", 0) == 0
    topic = env.topics_for(post.id)[0]
    return post, topic


def _notes(env) -> list[str]:
    return [n for j in env.outbox.list(kind="mirror.post") for n in j.payload.get("notes", [])]


def test_three_character_title(mirror_env):
    post, topic = _mirror(mirror_env, "Hi!", f"<p>A short title for a real post {uuid.uuid4().hex}.</p>")
    assert topic["title"].startswith("Hi! · Space news")
    assert any("shorter than" in n for n in _notes(mirror_env))


def test_four_hundred_character_title(mirror_env):
    title = ("A very long title about the Wikimedia Space community " * 8)[:400] + uuid.uuid4().hex[:6]
    post, topic = _mirror(mirror_env, title, "<p>The title of this post is far too long for a forum.</p>")
    assert len(topic["title"]) <= 255 and topic["title"].endswith("…")


@on_every_profile  # the refusal's wording changed with Discourse PR #41871
def test_identical_titles_on_two_posts(mirror_env):
    title = f"The same title twice {uuid.uuid4().hex[:6]}"
    first, t1 = _mirror(mirror_env, title, "<p>The first post with this title, from the blog.</p>")
    second, t2 = _mirror(mirror_env, title, "<p>The second post with this title, from the blog.</p>")
    assert t1["id"] != t2["id"]
    assert t1["title"] == title and t2["title"] == f"{title} (Space news #{second.id})"
    assert any("duplicate title" in n for n in _notes(mirror_env))


def test_arabic_rtl_title(mirror_env):
    title = f"مرحبا بكم في مساحة ويكيميديا {uuid.uuid4().hex[:4]}"
    post, topic = _mirror(mirror_env, title, "<p>نص المقال باللغة العربية، مع بعض الكلمات.</p>")
    assert topic["title"] == title


def test_emoji_title(mirror_env):
    post, topic = _mirror(mirror_env, "🎉🎉🎉", f"<p>Celebration post {uuid.uuid4().hex}.</p>")
    assert topic["title"].startswith("🎉🎉🎉")


def test_body_only_a_shortcode(mirror_env):
    post, topic = _mirror(mirror_env, f"Shortcode only {uuid.uuid4().hex[:6]} post", '[contact-form-7 id="12"]')
    d = mirror_env.discourse()
    raw = d.get_post(d.get_topic(topic["id"]).first_post_id).raw
    assert "contact-form" not in raw and post.permalink in raw


def test_body_only_an_image(mirror_env):
    post, topic = _mirror(mirror_env, f"Image only {uuid.uuid4().hex[:6]} post",
                          '<img src="/wp-content/uploads/photo.jpg" alt="">')
    d = mirror_env.discourse()
    raw = d.get_post(d.get_topic(topic["id"]).first_post_id).raw
    assert "http://127.0.0.1:8081/wp-content/uploads/photo.jpg" in raw and post.permalink in raw

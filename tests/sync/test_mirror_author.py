"""A post whose author logged in through Wikimedia is posted as the author's forum account."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from bridge.clients.discourse import DiscourseClient
from bridge.store import accounts, metadata, utcnow

pytestmark = pytest.mark.stack


def test_topic_created_as_the_authors_forum_account(mirror_env):
    env = mirror_env
    members = metadata.tables["sso_members"]
    me = env.wp().whoami()  # the WordPress account the test publishes with
    forum_name = f"author{uuid.uuid4().hex[:6]}"
    sub = str(uuid.uuid4().int)[:9]
    secret = "connect-secret-0123"
    env.forum.enable_discourse_connect("http://127.0.0.1:9/sso", secret)
    DiscourseClient(env.forum.url, env.forum.api_key, connect_secret=secret, requests_per_minute=100000).sync_sso(
        external_id=sub, email=f"{forum_name}@example.org", username=forum_name)
    now = utcnow()
    with env.engine.begin() as conn:
        conn.execute(sa.insert(accounts).values(
            sub=sub, username=f"Wiki {forum_name}", email=None, email_confirmed=True, realname=me.name, groups=[],
            editcount=10, registered=None, blocked=False, platforms=["discourse", "wordpress"], last_login_at=now,
            created_at=now, updated_at=now))
        conn.execute(sa.insert(members).values(sub=sub, username=forum_name, username_lower=forum_name.lower(),
                                               discourse_fields_hash=None, created_at=now, updated_at=now))
    post = env.wp().create_post(f"Written by a member {uuid.uuid4().hex[:6]} of the Space",
                                "<p>The author logged in with their Wikimedia account.</p>", status="publish")
    env.wait_for_jobs(1)
    env.drain(until=lambda: len(env.topics_for(post.id)) == 1)
    topic = env.discourse().get_topic(env.topics_for(post.id)[0]["id"])
    first = env.discourse().get_post(topic.first_post_id)
    notes = [n for j in env.outbox.list() for n in j.payload.get("notes", [])]
    assert first.username == forum_name, (me.name, notes)


def test_author_without_forum_account_falls_back_to_the_configured_user(mirror_env):
    env = mirror_env
    post = env.wp().create_post(f"Written by a local editor {uuid.uuid4().hex[:6]}",
                                "<p>The author never logged in through Wikimedia.</p>", status="publish")
    env.wait_for_jobs(1)
    env.drain(until=lambda: len(env.topics_for(post.id)) == 1)
    topic = env.discourse().get_topic(env.topics_for(post.id)[0]["id"])
    assert env.discourse().get_post(topic.first_post_id).username == "system"

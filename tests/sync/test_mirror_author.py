"""Who a mirrored topic is posted as: the member whose Wikimedia account the post's author linked
by logging in through DiscourseConnect (the external_id on the WordPress account), never someone
whose name matches. Real WordPress of the local stack (its mu-plugin computes the author's
external_id), the Discourse double, over both of the bridge's WordPress transports."""

from __future__ import annotations

import datetime as dt
import secrets
import sys
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
import yaml

from bridge import config
from bridge.clients.discourse import DiscourseClient, User
from bridge.clients.wordpress import Author, Post
from bridge.store import accounts, sso_members, utcnow
from mirror_harness import MirrorEnv, on_every_profile, write_wp_constants
from sso import usernames
from sync.mirror import Mirror

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sso"))  # wp_helpers
from wp_helpers import WpAdmin, sso_login, sso_override, user_meta_external_id  # noqa: E402

WP_SECRET = "mirror-author-wp-connect-secret-0123"
WP_SSO_URL = "http://127.0.0.1:9/sso/wordpress/test"
FALLBACK = "system"  # neither mirror_as nor mirror.username set: the API user


@pytest.fixture(params=["rest", "xmlrpc"])
def env(request, stack, forum, tmp_path):
    e = MirrorEnv(stack, forum, tmp_path, transport=request.param)
    e.point_wordpress_here()
    yield e
    write_wp_constants(None, None)
    e.close()


@pytest.fixture
def blog(stack):
    """The blog's administrator (REST), with the Wikimedia login pointed at this test."""
    with sso_override({"SPACE_BRIDGE_SSO_URL": WP_SSO_URL, "SPACE_BRIDGE_SSO_SECRET": WP_SECRET}):
        admin = WpAdmin(stack)
        yield admin
        admin.cleanup()


def tag() -> str:
    return uuid.uuid4().hex[:6]


def forum_member(env, username: str, *, realname: str | None = None, admin: bool = False) -> str:
    """A member who logged in to the forum through the bridge: forum account, accounts and
    sso_members rows. Their `sub`."""
    sub = str(uuid.uuid4().int)[:9]
    secret = env.settings.discourse.connect_secret.get_secret_value()
    env.forum.enable_discourse_connect("http://127.0.0.1:9/sso", secret)
    DiscourseClient(env.forum.url, env.forum.api_key, connect_secret=secret,
                    requests_per_minute=100000).sync_sso(external_id=sub, email=f"{username}@example.org",
                                                         username=username, admin=admin)
    now = utcnow()
    with env.engine.begin() as conn:
        conn.execute(sa.insert(accounts).values(
            sub=sub, username=f"Wiki {username}", email=None, email_confirmed=True, realname=realname, groups=[],
            editcount=10, registered=None, blocked=False, platforms=["discourse"], last_login_at=now,
            created_at=now, updated_at=now))
        conn.execute(sa.insert(sso_members).values(sub=sub, username=username, username_lower=username.lower(),
                                                   discourse_fields_hash=None, created_at=now, updated_at=now))
    return sub


def local_author(blog: WpAdmin, display_name: str) -> dict:
    """A WordPress author who never logged in through Wikimedia, named as they chose."""
    user = blog.create(f"local-{tag()}", f"local-{tag()}@space-bridge.test", roles=("author",))
    rename(blog, user["id"], display_name)
    return user


def rename(blog: WpAdmin, user_id: int, display_name: str) -> None:
    r = blog.s.post(f"{blog.url}/wp-json/wp/v2/users/{user_id}", json={"name": display_name}, timeout=20)
    r.raise_for_status()
    assert r.json()["name"] == display_name


def linked_author(blog: WpAdmin, sub: str) -> dict:
    """A blog author who logged in with their Wikimedia account (the plugin stored `sub`)."""
    t = tag()
    sso_login(blog.url, WP_SECRET, {"external_id": sub, "email": f"linked-{t}@space-bridge.test",
                                    "username": f"linked-{t}", "name": f"Linked {t}"})
    user = blog.by_email(f"linked-{t}@space-bridge.test")
    blog.created.append(user["id"])
    blog.s.post(f"{blog.url}/wp-json/wp/v2/users/{user['id']}", json={"roles": ["author"]},
                timeout=20).raise_for_status()
    return user


def publish(session: requests.Session, url: str, author: int | None = None, **extra) -> int:
    body = {"title": f"A post by a blog author {tag()}", "content": "<p>What the author wrote for the Space.</p>",
            "status": "publish", **extra}
    if author is not None:
        body["author"] = author
    r = session.post(f"{url}/wp-json/wp/v2/posts", json=body, timeout=20)
    r.raise_for_status()
    return r.json()["id"]


def topic_author(env, post_id: int) -> str:
    env.wait_for_jobs(1)
    env.drain(until=lambda: len(env.topics_for(post_id)) == 1)
    topic = env.discourse().get_topic(env.topics_for(post_id)[0]["id"])
    return env.discourse().get_post(topic.first_post_id).username


@pytest.mark.stack
def test_a_display_name_equal_to_a_forum_admins_username_posts_as_the_fallback_user(env, blog):
    boss = f"boss{tag()}"
    forum_member(env, boss, admin=True)
    impostor = local_author(blog, boss)
    assert topic_author(env, publish(blog.s, blog.url, impostor["id"])) == FALLBACK


@pytest.mark.stack
def test_a_wiki_real_name_equal_to_a_blog_authors_name_takes_over_nothing(mirror_env, blog):
    env = mirror_env
    name = f"Ada Example {tag()}"
    forum_member(env, f"ada{tag()}", realname=name)  # a wiki user whose real name is the author's
    author = local_author(blog, name)
    assert topic_author(env, publish(blog.s, blog.url, author["id"])) == FALLBACK
    # nor through the wiki username the bridge keeps ("Wiki <forum name>")
    other = f"wk{tag()}"
    forum_member(env, other)
    rename(blog, author["id"], f"Wiki {other}")
    assert topic_author(env, publish(blog.s, blog.url, author["id"])) == FALLBACK


@pytest.mark.stack
def test_a_linked_author_posts_as_themself_whatever_their_display_name(env, blog):
    own = f"author{tag()}"
    sub = forum_member(env, own)
    author = linked_author(blog, sub)
    assert user_meta_external_id(blog.stack, author["id"]) == sub
    boss = f"boss{tag()}"
    forum_member(env, boss, admin=True)
    rename(blog, author["id"], boss)  # a name is never what links
    assert topic_author(env, publish(blog.s, blog.url, author["id"])) == own


@on_every_profile
@pytest.mark.stack
def test_a_member_the_forum_named_otherwise_posts_under_the_forums_name(mirror_env, blog):
    """The forum did not give the member the name the bridge proposed (a local account had it;
    a reserved name is the same case): the topic is posted under the name the forum gave, never
    as the local account."""
    env = mirror_env
    name = f"taken{tag()}"
    secret = env.settings.discourse.connect_secret.get_secret_value()
    env.forum.enable_discourse_connect("http://127.0.0.1:9/sso", secret)
    with DiscourseClient(env.forum.url, env.forum.api_key, connect_secret=secret,
                         requests_per_minute=100000) as forum:
        local = forum.sync_sso(f"local-{tag()}", f"{name}-local@example.org", username=name)
        assert local.username == name
        sub = forum_member(env, name)  # the bridge proposed `name`; the forum numbered it
        given = forum.user_by_external_id(sub).username
    assert given != name and given.lower().startswith(name.lower())
    author = linked_author(blog, sub)
    assert topic_author(env, publish(blog.s, blog.url, author["id"])) == given
    assert usernames.stored(env.engine, sub) == given


@pytest.mark.stack
def test_an_author_cannot_claim_someone_elses_account(mirror_env, blog):
    env = mirror_env
    victim = forum_member(env, f"victim{tag()}")
    author = local_author(blog, f"Writer {tag()}")
    r = blog.s.post(f"{blog.url}/wp-json/wp/v2/users/{author['id']}/application-passwords",
                    json={"name": "test"}, timeout=20)
    r.raise_for_status()
    own = requests.Session()
    own.auth = (blog.get(author["id"])["username"], r.json()["password"])
    # their own profile: the meta is not theirs to write, through `meta` or as a field
    r = own.post(f"{blog.url}/wp-json/wp/v2/users/me", json={
        "meta": {"space_bridge_external_id": victim}, "space_bridge_external_id": victim}, timeout=20)
    assert r.status_code in (200, 400), r.text
    assert user_meta_external_id(blog.stack, author["id"]) is None
    # their own post: the author field is computed, a value sent with the post is dropped
    post_id = publish(own, blog.url, space_bridge_author_external_id=victim,
                      meta={"space_bridge_external_id": victim})
    shown = own.get(f"{blog.url}/wp-json/wp/v2/posts/{post_id}", timeout=20).json()
    assert shown["space_bridge_author_external_id"] is None
    assert topic_author(env, post_id) == FALLBACK


@pytest.mark.stack
def test_the_author_link_is_not_shown_to_readers(mirror_env, blog):
    env = mirror_env
    shy = f"shy{tag()}"
    sub = forum_member(env, shy)
    author = linked_author(blog, sub)
    post_id = publish(blog.s, blog.url, author["id"])
    assert blog.s.get(f"{blog.url}/wp-json/wp/v2/posts/{post_id}", timeout=20).json()[
        "space_bridge_author_external_id"] == sub
    assert requests.get(f"{blog.url}/wp-json/wp/v2/posts/{post_id}", timeout=20).json()[
        "space_bridge_author_external_id"] is None
    assert topic_author(env, post_id) == shy


@pytest.mark.stack
def test_author_without_forum_account_falls_back_to_the_configured_user(mirror_env):
    env = mirror_env
    post = env.wp().create_post(f"Written by a local editor {tag()}",
                                "<p>The author never logged in through Wikimedia.</p>", status="publish")
    assert topic_author(env, post.id) == FALLBACK


# -- without the stack: the lookup itself ------------------------------------------------------
def unit_settings(tmp_path, db_url, *, mirror_as=None, post_as_author=True):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({
        "bridge": {"public_url": "http://127.0.0.1:8090", "secret_key": secrets.token_hex(32), "database_url": db_url,
                   "state_dir": str(tmp_path / "state")},
        "wordpress": {"sites": [{"name": "news", "url": "https://news.example", "username": "bridge",
                                 "password": secrets.token_hex(16), "webhook_secret": secrets.token_hex(32),
                                 "mirror_as": mirror_as}]},
        "mirror": {"post_as_author": post_as_author, "username": "newsbot"},
    }))
    return config.load(path)


def unit_member(engine, sub, username, realname, *, blocked=False):
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(sa.insert(accounts).values(
            sub=sub, username=realname, email=None, email_confirmed=True, realname=realname, groups=[],
            editcount=1, registered=None, blocked=blocked, platforms=[], last_login_at=now,
            created_at=now, updated_at=now))
        conn.execute(sa.insert(sso_members).values(sub=sub, username=username, username_lower=username.lower(),
                                                   discourse_fields_hash=None, created_at=now, updated_at=now))


def unit_post(name, external_id=None):
    return Post(id=1, title="t", content="", excerpt="", status="publish", categories=(), category_names=(),
                tags=(), tag_names=(), author=Author(7, name, external_id), permalink="https://news.example/t/",
                modified=dt.datetime.now(dt.timezone.utc))


class ForumUsers:
    """The forum's users by external id (the mirror asks the forum for the author's name)."""

    def __init__(self, users):
        self.users = users

    def user_by_external_id(self, external_id):
        name = self.users.get(external_id)
        return User(id=1, username=name, name=None, external_id=external_id, admin=False, moderator=False,
                    active=True, suspended_till=None) if name else None


def test_only_the_external_id_links_a_post_to_a_member(tmp_path, db_url, engine):
    s = unit_settings(tmp_path, db_url)
    m = Mirror(s, engine, forum=ForumUsers({"101": "Boss", "102": "Locked"}))
    unit_member(engine, "101", "Boss", "Ada Lovelace")
    unit_member(engine, "102", "Locked", "Locked Person", blocked=True)
    site = s.site("news")
    for name in ("Boss", "boss", "Ada Lovelace", "Wiki Boss", "101"):
        assert m._author(site, unit_post(name)) == "newsbot", name
    assert m._author(site, unit_post("anyone", "101")) == "Boss"
    assert m._author(site, unit_post("Boss", "999")) == "newsbot"   # linked to no member known here
    assert m._author(site, unit_post("Locked", "102")) == "newsbot"  # a blocked member posts as no one


def test_the_site_user_and_post_as_author_off(tmp_path, db_url, engine):
    unit_member(engine, "101", "Boss", "Ada Lovelace")
    site_user = unit_settings(tmp_path, db_url, mirror_as="newsdesk")
    assert Mirror(site_user, engine, forum=object())._author(site_user.site("news"), unit_post("Boss")) == "newsdesk"
    off = unit_settings(tmp_path, db_url, post_as_author=False)
    assert Mirror(off, engine, forum=object())._author(off.site("news"), unit_post("x", "101")) == "newsbot"

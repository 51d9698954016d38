"""The mirror with what each Discourse release answers, without the stack (fakes for the forum and
the blog; the same against the double's profiles: test_mirror_outcomes.py, test_mirror_author.py):

- a duplicate title, worded "Title has already been used" (app/models/topic.rb, unique_among)
  or, on Discourse since PR #41871 (site setting ``duplicate_topic_titles``), "This title has
  already been used by [another topic]": either way the topic is created with the
  distinguishing suffix;
- the author's forum username is the forum's, asked by external id: a forum that gave the
  member another name than the bridge proposed (a reserved one, or one a local account had)
  gets the topic posted under the name it has.
"""

from __future__ import annotations

import datetime as dt
import types

import pytest
import sqlalchemy as sa

from bridge.clients.discourse import DiscourseValidationError, User
from bridge.clients.wordpress import Author, Post
from bridge.store import accounts, sso_members, utcnow
from sso import usernames
from sync import mapping
from sync.mirror import Mirror

from mirror_harness import unit_settings


def settings_for(tmp_path, db_url):
    return unit_settings(tmp_path, db_url,
                         mirror={"post_as_author": True, "username": "newsbot", "relist_embedded": False})


def post(post_id=1, title="Launch window opens for the lunar probe", external_id=None):
    return Post(id=post_id, title=title, content="<p>" + "The probe leaves for the Moon next week. " * 5 + "</p>",
                excerpt="", status="publish", categories=(), category_names=(), tags=(), tag_names=(),
                author=Author(7, "Writer", external_id), permalink=f"https://news.example/p/{post_id}/",
                modified=dt.datetime.now(dt.timezone.utc))


class Forum:
    """The forum calls the mirror makes to create a topic; `refusals`: the errors of the first
    create attempts; `users`: external id -> forum username."""

    def __init__(self, refusals=(), users=None):
        self.refusals = list(refusals)
        self.users = dict(users or {})
        self.created = []
        self.lookups = []

    def get_topic_by_external_id(self, eid):
        return None

    def create_topic(self, title, raw, **kw):
        if self.refusals:
            raise DiscourseValidationError("refused", status=422, errors=[self.refusals.pop(0)])
        self.created.append({"title": title, **kw})
        return types.SimpleNamespace(topic_id=40 + len(self.created), topic_url=f"https://forum.example/t/{title}")

    def user_by_external_id(self, external_id):
        self.lookups.append(external_id)
        name = self.users.get(external_id)
        return User(id=3, username=name, name=None, external_id=external_id, admin=False, moderator=False,
                    active=True, suspended_till=None) if name else None


class Blog:
    def set_meta(self, post_id, **values):
        return types.SimpleNamespace(modified=dt.datetime.now(dt.timezone.utc))


def mirror(tmp_path, db_url, engine, forum):
    settings = settings_for(tmp_path, db_url)
    m = Mirror(settings, engine, forum=forum)
    m._local.wp = {"news": Blog()}
    return m, settings.site("news")


@pytest.mark.parametrize("wording", [
    "Title has already been used",                                       # before PR #41871
    "This title has already been used by another topic",                 # since (duplicate_topic_titles)
    'This title has already been used by <a href="/t/launch/12">another topic</a>',
])
def test_a_duplicate_title_in_either_wording_gets_the_suffix(tmp_path, db_url, engine, wording):
    """Fails with the older wording alone recognised: the job died on current Discourse."""
    forum = Forum(refusals=[wording])
    m, site = mirror(tmp_path, db_url, engine, forum)
    outcome = m.sync_post(site, 1, post())
    assert outcome.action == "created"
    assert forum.created[0]["title"].startswith("Launch window opens for the lunar probe")
    assert forum.created[0]["title"] != "Launch window opens for the lunar probe"
    assert any("duplicate title" in n for n in outcome.notes)
    with engine.connect() as conn:
        assert mapping.by_post(conn, "news", 1)["title"] == forum.created[0]["title"]


def test_other_refusals_still_fail(tmp_path, db_url, engine):
    m, site = mirror(tmp_path, db_url, engine, Forum(refusals=["Category is not allowed"]))
    with pytest.raises(DiscourseValidationError):
        m.sync_post(site, 1, post())


def member(engine, sub, name, *, blocked=False):
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(sa.insert(accounts).values(
            sub=sub, username=f"Wiki {name}", email=None, email_confirmed=True, realname=None, groups=[],
            editcount=1, registered=None, blocked=blocked, platforms=["discourse"], last_login_at=now,
            created_at=now, updated_at=now))
        conn.execute(sa.insert(sso_members).values(sub=sub, username=name, username_lower=name.lower(),
                                                   discourse_fields_hash=None, created_at=now, updated_at=now))


def test_the_topic_is_posted_under_the_name_the_forum_gave_the_author(tmp_path, db_url, engine):
    """Fails with the bridge's own idea of the name: the topic was posted as `Grace`, which the
    forum does not have (or is someone else)."""
    member(engine, "101", "Grace")
    forum = Forum(users={"101": "Grace1"})
    m, site = mirror(tmp_path, db_url, engine, forum)
    m.sync_post(site, 1, post(1, external_id="101"))
    assert forum.created[0]["username"] == "Grace1"
    assert usernames.stored(engine, "101") == "Grace1"  # and the bridge's next answers say so
    # asked once, then remembered for a while
    m.sync_post(site, 2, post(2, "A second launch window for the lunar probe", external_id="101"))
    assert forum.created[1]["username"] == "Grace1" and forum.lookups == ["101"]


def test_an_author_the_forum_does_not_know_posts_as_the_configured_user(tmp_path, db_url, engine):
    member(engine, "102", "Known")            # the bridge named them, but they never reached the forum
    member(engine, "103", "Blocked", blocked=True)
    forum = Forum(users={"103": "Blocked"})
    m, site = mirror(tmp_path, db_url, engine, forum)
    m.sync_post(site, 1, post(1, external_id="102"))
    m.sync_post(site, 2, post(2, "Another launch window for the lunar probe", external_id="103"))
    assert [c["username"] for c in forum.created] == ["newsbot", "newsbot"]
    assert forum.lookups == ["102"]  # a blocked member is not even asked about
    assert usernames.stored(engine, "102") == "Known"


class ForumWithSettings(Forum):
    """Also answers GET /admin/site_settings.json (`embed_unlisted`, or an error) and the read-back."""

    def __init__(self, embed_unlisted, **kw):
        super().__init__(**kw)
        self.embed_unlisted = embed_unlisted
        self.settings_reads = 0
        self.read_back = []
        self.listed = []

    def site_settings(self):
        from bridge.clients.discourse import DiscourseAuthError, SiteSetting

        self.settings_reads += 1
        if self.embed_unlisted is None:
            raise DiscourseAuthError("this key may not read site settings", status=403)
        return {"embed_unlisted": SiteSetting("embed_unlisted", "true" if self.embed_unlisted else "false")}

    def get_topic(self, topic_id):
        self.read_back.append(topic_id)
        return types.SimpleNamespace(url=f"https://forum.example/t/{topic_id}", visible=False)

    def set_visible(self, topic_id, visible):
        self.listed.append((topic_id, visible))


def relisting_mirror(tmp_path, db_url, engine, forum):
    settings = unit_settings(tmp_path, db_url, mirror={"username": "newsbot"})  # relist_embedded: default on
    m = Mirror(settings, engine, forum=forum)
    m._local.wp = {"news": Blog()}
    return m, settings.site("news")


@pytest.mark.parametrize("embed_unlisted, read_back", [(False, False), (True, True), (None, True)])
def test_a_new_topic_is_read_back_only_where_the_forum_may_have_left_it_unlisted(tmp_path, db_url, engine,
                                                                                embed_unlisted, read_back):
    """embed_unlisted off (as `discourse setup` leaves it): the create alone; on, or unreadable
    (a key that may not read settings): each new topic read back and listed. The setting is read
    once for many topics."""
    forum = ForumWithSettings(embed_unlisted)
    m, site = relisting_mirror(tmp_path, db_url, engine, forum)
    for n in (1, 2, 3):
        m.sync_post(site, n, post(n, f"Launch window number {n} opens for the lunar probe"))
    assert len(forum.created) == 3 and forum.settings_reads == 1
    assert forum.read_back == ([41, 42, 43] if read_back else [])
    assert forum.listed == ([(41, True), (42, True), (43, True)] if read_back else [])

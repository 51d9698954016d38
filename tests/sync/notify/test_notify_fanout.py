"""Knowing who was answered (issue 16, part 3), from the forum's real web hooks (the Discourse
contract double) through the bridge's receiver: a reply to a member's post and a mention of a
member reach them as they chose, and nobody else; forum names are mapped to members by external
id, never by the name alone; private places stay private."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import yaml
from mirror_harness import BridgeServer
from notify_helpers import ALICE, BOB, add_members
from test_notify_deliver import Wiki, choose

from bridge import config
from bridge.app import create_app
from bridge.clients.discourse import DiscourseClient
from bridge.outbox import Outbox
from sso import usernames
from sync.notify import fanout
from sync.notify.channels import EmailChannel, TalkChannel
from sync.notify.deliver import DELIVER, Sender
from sync.notify.plan import MENTIONS, NEW_POSTS, REPLIES_TO_POSTS, REPLIES_TO_TOPICS

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

LONG = "enough words here for the forum to take this post as it is"
CONNECT = "notify-connect-secret-0123456789"
CAROL = "1003"  # a member who chose nothing


class Space:
    """The bridge (notify on, the forum's web hook pointed at it), its members on the forum."""

    def __init__(self, forum, settings_file, engine, smtp_port: int, mediawiki: dict | None = None):
        self.forum, self.engine = forum, engine
        secret = uuid.uuid4().hex
        self.tag = secret[:6]
        data = yaml.safe_load(settings_file.read_text())
        data["discourse"] = {"url": forum.url, "api_key": forum.api_key, "connect_secret": CONNECT,
                             "webhook_secret": secret, "requests_per_minute": 100000}
        data["mediawiki"] = mediawiki or {"api_url": "https://es.wikipedia.org/w/api.php", "username": "Bot@x",
                                          "password": uuid.uuid4().hex + uuid.uuid4().hex}
        data["notify"] = {"email": {"sender": "space@example.org", "smtp": {"host": "127.0.0.1", "port": smtp_port,
                                                                             "starttls": False}}}
        data["relay"] = {"category_cache_seconds": 0}
        data["search"] = {"enabled": False}
        settings_file.write_text(yaml.safe_dump(data))
        self.settings = config.load(settings_file)
        self.server = BridgeServer(create_app(self.settings, engine)).start()
        forum.add_webhook(f"{self.server.url}/webhooks/discourse", secret, wildcard=True)
        forum.enable_discourse_connect("http://127.0.0.1:9/sso", CONNECT)
        self.wiki = Wiki() if mediawiki is None else None  # None: the real wiki of the local stack
        self.sender = Sender(self.settings, engine, talk=TalkChannel(self.settings, client=self.wiki),
                             email=EmailChannel(self.settings))
        self.sender.talk.min_interval = 0
        self.planner = fanout.Planner(self.settings, engine)
        self.outbox = Outbox(engine, self.settings.outbox)
        self.names: dict[str, str] = {}
        self.any_user_key = forum.create_api_key(all_users=True)

    def member(self, sub: str, name: str, *, external_id: str | None = None) -> str:
        """A member's forum account, made as a DiscourseConnect login makes it; the bridge keeps
        the name (sso_members) as a login does."""
        with DiscourseClient(self.forum.url, self.forum.api_key, connect_secret=CONNECT,
                             requests_per_minute=100000) as client:
            user = client.sync_sso(external_id or sub, f"{name}@example.org", username=name)
        usernames.adopt(self.engine, sub, user.username)
        self.names[sub] = user.username
        return user.username

    def post(self, as_user: str = "system", **body) -> dict:
        r = self.forum.request("POST", "/posts.json", json=body,
                               headers={"Api-Key": self.any_user_key, "Api-Username": as_user})
        assert r.status_code == 200, r.text
        return r.json()

    def settle(self) -> None:
        """Deliver the web hooks, plan (now, whatever the topic delay) and send."""
        assert self.forum.wait_for_web_hooks(20)
        for _ in range(20):
            jobs = [j for j in self.outbox.list(limit=1000) if j.state == "pending"
                    and j.kind in (fanout.PLAN, DELIVER)]  # the mirror's reply jobs are not this test's
            if not jobs:
                break
            for job in jobs:
                {fanout.PLAN: self.planner, DELIVER: self.sender.deliver}[job.kind](job)
                with self.engine.begin() as conn:
                    conn.execute(self.outbox_done(job))

    @staticmethod
    def outbox_done(job):
        import sqlalchemy as sa

        from bridge.store import outbox_jobs

        return sa.update(outbox_jobs).where(outbox_jobs.c.id == job.id).values(state="done")

    def delivered(self) -> dict[str, list[str]]:
        """sub -> the reasons of the deliveries queued for them."""
        found: dict[str, list[str]] = {}
        for job in self.outbox.list(kind=DELIVER, limit=1000):
            found.setdefault(job.payload["sub"], []).append(job.payload["reason"])
        return found

    def close(self):
        self.server.stop()


@pytest.fixture
def space(forum, settings_file, engine, smtp_inbox):
    add_members(engine)
    from sso import accounts

    accounts.upsert_from_profile(engine, {"sub": int(CAROL), "username": "Carol Example", "email": "c@example.org",
                                          "confirmed_email": True, "blocked": False, "groups": ["*", "user"]})
    s = Space(forum, settings_file, engine, smtp_inbox.port)
    yield s
    s.close()


def test_a_reply_to_alices_post_and_a_mention_of_bob_reach_them_as_they_chose_and_nobody_else(space, smtp_inbox):
    tag = space.tag
    alice = space.member(ALICE, f"alice{tag}")
    bob = space.member(BOB, f"bob{tag}")
    carol = space.member(CAROL, f"carol{tag}")
    choose(space.engine, ALICE, events=frozenset({REPLIES_TO_POSTS}), channel="email")  # confirmed address
    choose(space.engine, BOB, events=frozenset({MENTIONS}))                             # talk page
    choose(space.engine, CAROL, events=frozenset({REPLIES_TO_POSTS}), channel="none")

    topic = space.post(as_user=carol, title=f"Budget questions {tag} for the year", raw=f"{LONG} opening {tag}")
    mine = space.post(as_user=alice, topic_id=topic["topic_id"], raw=f"{LONG} Alice's view")
    space.settle()
    assert space.delivered() == {}  # a reply to Carol's topic: Carol chose no channel

    space.post(topic_id=topic["topic_id"], reply_to_post_number=mine["post_number"],
               raw=f"{LONG}. I agree with you, and @{bob} should see this too.")
    space.settle()
    assert space.delivered() == {ALICE: [REPLIES_TO_POSTS], BOB: [MENTIONS]}
    page = space.wiki.pages["User talk:Bob Example"]
    assert f"mentioned you in “Budget questions {tag} for the year”" in page
    assert list(space.wiki.pages) == ["User talk:Bob Example"]
    [(_, to, msg)] = smtp_inbox.messages
    assert to == ["alice@example.org"]
    assert msg["Subject"] == f"system replied to your post in “Budget questions {tag} for the year”"
    assert msg["List-Unsubscribe"].startswith("<http")
    assert space.forum.violations() == []


def test_the_author_is_not_told_of_their_own_reply_and_a_whisper_or_private_category_tells_nobody(space, forum):
    tag = space.tag
    alice = space.member(ALICE, f"alice{tag}")
    bob = space.member(BOB, f"bob{tag}")
    choose(space.engine, ALICE, events=frozenset({REPLIES_TO_TOPICS, MENTIONS}))
    choose(space.engine, BOB, events=frozenset({MENTIONS}))
    staff = forum.request("POST", "/categories.json", json={"name": f"Staff {tag}", "permissions": {"staff": 1}})
    assert staff.status_code == 200, staff.text

    topic = space.post(as_user=alice, title=f"Alice's own topic {tag} here", raw=f"{LONG} opening {tag}")
    space.post(as_user=alice, topic_id=topic["topic_id"], raw=f"{LONG} and @{alice} again")  # herself
    space.post(topic_id=topic["topic_id"], raw=f"{LONG} psst @{bob}", whisper=True)
    hidden = space.post(title=f"Staff plans {tag} for the year", raw=f"{LONG} opening",
                        category=staff.json()["category"]["id"])
    space.post(topic_id=hidden["topic_id"], raw=f"{LONG} @{bob} and @{alice} see this")
    space.settle()
    assert space.delivered() == {}
    assert space.wiki.edits == []


def test_a_forum_name_that_now_belongs_to_someone_else_is_nobody(space):
    tag = space.tag
    # the bridge once stored "bob<tag>" for Bob, but the forum account holding Bob's external id
    # is now called something else, and a stranger took the name
    space.member(BOB, f"bobnew{tag}")
    usernames.adopt(space.engine, BOB, f"bob{tag}")
    with DiscourseClient(space.forum.url, space.forum.api_key, connect_secret=CONNECT,
                         requests_per_minute=100000) as client:
        client.sync_sso(f"stranger-{tag}", f"s{tag}@example.org", username=f"bob{tag}")
    choose(space.engine, BOB, events=frozenset({MENTIONS}))
    topic = space.post(title=f"Naming things {tag} is hard", raw=f"{LONG} opening {tag}")
    space.post(topic_id=topic["topic_id"], raw=f"{LONG} hello @bob{tag}")
    space.settle()
    assert space.delivered() == {}


def test_a_new_topic_reaches_those_who_chose_new_posts_but_not_its_author(space):
    tag = space.tag
    alice = space.member(ALICE, f"alice{tag}")
    space.member(BOB, f"bob{tag}")
    choose(space.engine, ALICE, events=frozenset({NEW_POSTS}))
    choose(space.engine, BOB, events=frozenset({NEW_POSTS}), tags=frozenset(), languages=frozenset())
    space.post(as_user=alice, title=f"Wikidata workshop {tag} in May", raw=f"{LONG} opening {tag}")
    assert space.forum.wait_for_web_hooks(20)
    [plan_job] = [j for j in space.outbox.list() if j.kind == fanout.PLAN]
    assert plan_job.run_after > dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)  # waits for the mirror's record
    space.settle()
    assert space.delivered() == {BOB: [NEW_POSTS]}


def test_the_first_reply_to_a_blog_post_reaches_its_author_through_the_blogs_account_link(space):
    """The mirrored topic stands for the post's author, whoever the forum shows as its owner: the
    blog's link (Author.external_id) says who that is, never a name."""
    from bridge.clients.wordpress.models import Author, Post
    from sync import mapping
    from sync.notify.plan import FIRST_REPLY

    tag = space.tag
    choose(space.engine, ALICE, events=frozenset({FIRST_REPLY}))
    topic = space.post(title=f"Our grants programme {tag} opens", raw=f"{LONG} the blog post {tag}")
    mapping.put(space.engine, site="news", post_id=42, external_id=f"wp-news-42-{tag}", topic_id=topic["topic_id"],
                topic_url=f"{space.forum.url}/t/x/{topic['topic_id']}", title="Our grants programme", fingerprint="f",
                listed=True, wp_modified=None, note=None)
    now = dt.datetime.now(dt.timezone.utc)
    read = []

    def blog(site, post_id):
        read.append((site, post_id))
        return Post(id=post_id, title="Our grants programme", content="", excerpt="", status="publish",
                    categories=(), category_names=(), tags=(), tag_names=(), author=Author(3, "Ana", external_id=ALICE),
                    permalink="https://blog.example/grants", modified=now, published=now)

    space.planner = fanout.Planner(space.settings, space.engine, blog=blog)
    dave = space.member("1004", f"dave{tag}")  # a member of the forum, not of these choices
    space.post(as_user=dave, topic_id=topic["topic_id"], raw=f"{LONG} first reply {tag}")
    space.post(as_user=dave, topic_id=topic["topic_id"], raw=f"{LONG} second reply {tag}")
    space.settle()
    assert space.delivered() == {ALICE: [FIRST_REPLY]}  # the first reply only
    assert read and set(read) == {("news", 42)}
    assert "First reply to your blog post" in space.wiki.pages["User talk:Alice Example"]


@pytest.mark.stack
def test_on_the_real_wiki_a_reply_and_a_mention_reach_their_members_talk_pages_once(forum, settings_file, engine,
                                                                                      smtp_inbox, stack):
    """The same as the first test, with the talk pages on the local stack's real MediaWiki."""
    from bridge.clients.mediawiki import MediaWikiClient
    from sso import accounts
    from sync.notify.web import writable_wikis

    mw = stack["mediawiki"]
    add_members(engine)
    tag = uuid.uuid4().hex[:8]
    for sub, name in ((ALICE, f"Notify Alice {tag}"), (BOB, f"Notify Bob {tag}")):
        accounts.upsert_from_profile(engine, {"sub": int(sub), "username": name, "email": f"{sub}@example.org",
                                              "confirmed_email": True, "blocked": False, "groups": ["*", "user"]})
    space = Space(forum, settings_file, engine, smtp_inbox.port,
                  mediawiki={"api_url": mw["api_url"], "username": mw["bot_user"], "password": mw["bot_password"]})
    try:
        wiki = min(writable_wikis(space.settings), key=len)
        alice, bob = space.member(ALICE, f"alice{tag}"), space.member(BOB, f"bob{tag}")
        choose(engine, ALICE, events=frozenset({REPLIES_TO_POSTS}), wiki=wiki)
        choose(engine, BOB, events=frozenset({MENTIONS}), channel="email")
        topic = space.post(title=f"Real wiki questions {tag} for the year", raw=f"{LONG} opening {tag}")
        mine = space.post(as_user=alice, topic_id=topic["topic_id"], raw=f"{LONG} Alice's view {tag}")
        space.post(topic_id=topic["topic_id"], reply_to_post_number=mine["post_number"],
                   raw=f"{LONG}. Agreed, and @{bob} should see this {tag}.")
        space.settle()
        space.settle()  # a web hook delivered twice, a job run again: nothing more
        for job in space.outbox.list(kind=DELIVER, limit=1000):
            space.sender.deliver(job)
        with MediaWikiClient(mw["api_url"], mw["bot_user"], mw["bot_password"],
                             user_agent="space-bridge-tests/0 (notify)") as client:
            page = client.get_wikitext(f"User talk:Notify Alice {tag}")
        assert page.count("<!-- space-bridge:discourse:post:") == 1 and page.count("\n== ") + page.startswith("== ") == 1
        assert f"== system replied to your post in “Real wiki questions {tag} for the year” ==" in page
        assert [to for _, to, _ in smtp_inbox.messages] == [[f"{BOB}@example.org"]]
        assert space.delivered() == {ALICE: [REPLIES_TO_POSTS], BOB: [MENTIONS]}
    finally:
        space.close()
        space.sender.talk.close()

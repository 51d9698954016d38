"""Restricted forum content never reaches a public target, over the real pipeline: the Discourse
double's web hooks (real payload shapes) -> the bridge's /webhooks/discourse -> outbox -> the
example configuration's public wiki feed target on the REAL MediaWiki of the local stack, next
to a private (moderators') wiki target."""

from __future__ import annotations

import copy
import re
import time
import uuid
from pathlib import Path

import pytest
import yaml
from mirror_harness import BridgeServer
from relay_helpers import drain, settings

from bridge.app import create_app
from bridge.clients.discourse import DiscourseClient
from bridge.clients.mediawiki import MediaWikiClient
from bridge.outbox import Outbox
from sync.relay.deliver import DELIVER, relay_handlers
from sync.relay.forum import RECHECK_SECONDS
from sync.relay.targets.wiki import marker

pytestmark = pytest.mark.stack

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "space.example.yaml"
UA = "space-bridge-tests/0 (relay restricted content)"
LONG = "enough words here for the forum to take this post as it is"


def markers(wikitext: str) -> set[str]:
    """The events a wiki page shows (sync/relay/targets/wiki.py marks each entry)."""
    found = set(re.findall(r"<!-- space-bridge:(.+?) -->", wikitext))
    assert all(marker(e) in wikitext for e in found)
    return found


@pytest.fixture(scope="module")
def bot(stack):
    mw = stack["mediawiki"]
    with MediaWikiClient(mw["api_url"], mw["bot_user"], mw["bot_password"], user_agent=UA) as c:
        yield c


class Pipeline:
    """Bridge app on a real port, the forum's web hook pointing at it, the example's wiki-news
    target (own page per test) and a private copy of it for moderators."""

    def __init__(self, stack, forum, bot, db_url, engine, tag, events):
        mw = stack["mediawiki"]
        example = yaml.safe_load(EXAMPLE.read_text())["relay"]
        public = copy.deepcopy(next(t for t in example["targets"] if t["name"] == "wiki-news"))
        assert public["kind"] == "wiki" and public["private"] is False
        self.feed, self.mods = f"Space relay test/restricted feed {tag}", f"Space relay test/restricted mods {tag}"
        # The feed page gets one line per event; each subscriber's talk page a section with the
        # whole message (excerpt, category).
        subscribers, self.talk = f"Space relay test/restricted subscribers {tag}", f"User talk:Restricted {tag}"
        bot.append_text(subscribers, f"* [[{self.talk}]]\n", "test: subscribers")
        public["options"].update(page=self.feed, subscribers_page=subscribers,
                                 edits_per_minute=600)  # the example's 10: a slow test only
        private = copy.deepcopy(public)
        private.update(name="wiki-mods", private=True)
        private["options"].pop("subscribers_page")
        private["options"]["page"] = self.mods
        self.muted = f"Muted {tag}"
        secret = uuid.uuid4().hex
        self.settings = settings(
            [public, private],
            # Every event to both targets: only privacy keeps the public feed clean. A category
            # named by its NAME is muted for the public feed.
            [{"events": ["*"], "targets": ["wiki-news", "wiki-mods"]},
             {"events": ["*"], "targets": ["wiki-news"], "categories": [self.muted.upper()], "mute": True}],
            database_url=db_url,
            discourse={"url": forum.url, "api_key": forum.api_key, "connect_secret": "connect-" + uuid.uuid4().hex,
                       "webhook_secret": secret, "requests_per_minute": 100000},
            mediawiki={"api_url": mw["api_url"], "username": mw["bot_user"], "password": mw["bot_password"]},
            outbox={"poll_interval_seconds": 0.05, "lease_seconds": 5, "backoff_base_seconds": 0.05,
                    "backoff_max_seconds": 0.1, "max_attempts": 3})
        self.engine, self.forum = engine, forum
        self.server = BridgeServer(create_app(self.settings, engine)).start()
        forum.add_webhook(f"{self.server.url}/webhooks/discourse", secret, events)
        self.outbox = Outbox(engine, self.settings.outbox)

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
        drain(self.outbox, relay_handlers(self.settings, self.engine)[DELIVER])

    def jobs(self) -> dict[tuple[str, str], object]:
        return {(j.payload["event"]["id"], j.payload["target"]): j for j in self.outbox.list(kind=DELIVER, limit=500)}

    def close(self):
        self.server.stop()


@pytest.fixture
def pipeline(stack, forum, bot, db_url, engine):
    made = []

    def make(events=("topic_created", "post_created", "category_created", "category_updated")):
        p = Pipeline(stack, forum, bot, db_url, engine, uuid.uuid4().hex[:8], list(events))
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def test_staff_category_whisper_pm_and_unlisted_topic_stay_off_the_public_feed(pipeline, forum, bot):
    p = pipeline()
    tag = p.feed.rsplit(" ", 1)[1]
    public_cat = p.category(f"Announcements {tag}")
    staff_cat = p.category(f"Staff lounge {tag}", permissions={"staff": 1})
    muted_cat = p.category(p.muted)
    client = DiscourseClient(forum.url, forum.api_key, connect_secret="pm-connect-secret-0123",
                             requests_per_minute=100000)
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", "pm-connect-secret-0123")
    bo = client.sync_sso(f"pm-{tag}", f"bo-{tag}@example.org", username=f"bo{tag}")
    client.close()

    news = p.post(title=f"Public news {tag} for everyone", raw=f"Public body {tag}, {LONG}.", category=public_cat)
    reply = p.post(topic_id=news["topic_id"], raw=f"Public reply {tag}, {LONG}.")
    whisper = p.post(topic_id=news["topic_id"], raw=f"Whisper {tag} among staff, {LONG}.", whisper=True)
    staff = p.post(title=f"Staff only {tag} plans for the year", raw=f"Staff body {tag}, {LONG}.", category=staff_cat)
    pm = p.post(title=f"Private message {tag} to Bo", raw=f"PM body {tag}, {LONG}.", archetype="private_message",
                target_recipients=bo.username)
    hidden = p.post(title=f"Unlisted topic {tag} not for lists", raw=f"Unlisted body {tag}, {LONG}.",
                    category=public_cat, unlist_topic=True)
    # A reply's payload does not say its topic is unlisted: the delivery-time check finds out.
    hidden_reply = p.post(topic_id=hidden["topic_id"], raw=f"Reply in unlisted {tag}, {LONG}.")
    muted = p.post(title=f"Muted news {tag} by category name", raw=f"Muted body {tag}, {LONG}.", category=muted_cat)
    p.settle()
    assert forum.violations() == []

    def topic(post):
        return f"discourse:topic:{post['topic_id']}"

    def answer(post):
        return f"discourse:post:{post['id']}"

    public = {topic(news), answer(reply)}
    feed, talk, mods = bot.get_wikitext(p.feed), bot.get_wikitext(p.talk), bot.get_wikitext(p.mods)
    assert markers(feed) == public and markers(talk) == public
    assert f"Public reply {tag}" in talk
    assert f"Announcements {tag}" in talk  # the category's NAME in the message, not its id
    for secret in (f"Whisper {tag}", f"Staff only {tag}", f"Staff lounge {tag}", f"Private message {tag}",
                   f"PM body {tag}", f"Unlisted topic {tag}", f"Reply in unlisted {tag}", f"Muted news {tag}"):
        assert secret not in feed and secret not in talk, secret
    # ... and the moderators' private target has them, never a PM (only its participants may read it)
    assert markers(mods) == public | {answer(whisper), topic(staff), topic(hidden), answer(hidden_reply), topic(muted)}
    assert topic(pm) not in markers(mods) | markers(feed)
    # The reply in the unlisted topic was queued for the public feed and withheld when it ran.
    jobs = p.jobs()
    withheld = jobs[(answer(hidden_reply), "wiki-news")]
    assert withheld.state == "done"
    assert withheld.payload["notes"] == ["withheld from public target wiki-news: unlisted topic"]
    assert (topic(staff), "wiki-news") not in jobs and (answer(whisper), "wiki-news") not in jobs  # never queued


def test_a_job_queued_before_its_category_became_restricted_is_withheld(pipeline, forum, bot):
    # No category_updated web hook: the worker (another process in production) learns of the
    # change only by reading the forum again when it delivers.
    p = pipeline(events=("topic_created", "category_created"))
    tag = p.feed.rsplit(" ", 1)[1]
    cat = p.category(f"Later private {tag}")
    p.post(title=f"Queued while public {tag}", raw=f"Body {tag}, {LONG}.", category=cat)
    assert forum.wait_for_web_hooks(20)
    queued = p.jobs()
    assert {t for (_, t) in queued} == {"wiki-news", "wiki-mods"}  # public when it was queued
    r = forum.request("PUT", f"/categories/{cat}.json", json={"name": f"Later private {tag}", "permissions": {"staff": 1}})
    assert r.status_code == 200, r.text
    time.sleep(RECHECK_SECONDS)  # the longest a worker trusts the category map it read for another job
    drain(p.outbox, relay_handlers(p.settings, p.engine)[DELIVER])
    event_id = next(e for (e, _) in queued)
    assert markers(bot.get_wikitext(p.mods)) == {event_id}
    assert not bot.page_exists(p.feed) and not bot.page_exists(p.talk)  # nothing was ever written there
    job = p.jobs()[(event_id, "wiki-news")]
    assert job.state == "done" and job.attempts == 1
    assert job.payload["notes"] == [f"withheld from public target wiki-news: read-restricted category Later private {tag}"]

"""Issue 16's acceptance against the REAL MediaWiki of the local stack and a real SMTP server.

A member subscribes on the wiki (a delivery list the relay's `wiki` target reads), another on
/me/notifications; one blog post goes out through both paths, the relay's (sync/relay/deliver.py)
and the members' own (sync/notify/fanout.py, deliver.py), and each talk page gets its section
once: the marker is made from the post's id, which both paths share (sync/notify/happenings.py),
and sync/relay/targets/wiki.py `write_section` never writes a page that holds it. Then the
rest of the issue on the same pages: {{nobots}}, leaving the list, the talk-page cap folding
into one digest section, and the unsubscribe links of a talk page and of an email.

The jobs run as a worker runs them (bridge.outbox.Worker, one thread), then every job is run
again (a retry) and again with new handlers (a restart: new wiki clients, a new Sender). The
Sender's clock is fixed per step (days in the recent past, so the signed links it makes are
still good for the app, which checks them against the real time).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from urllib.parse import urlsplit

import pytest
from notify_helpers import PUBLIC_URL, SECRET_KEY, log_in

from bridge import config
from bridge.app import create_app
from bridge.clients.wordpress.models import Author, Post
from bridge.outbox import Outbox, Worker, enqueue
from sso import accounts
from sync.notify import fanout, happenings, preferences
from sync.notify.deliver import DIGEST, Sender
from sync.notify.fanout import PLAN, Planner
from sync.notify.plan import NEW_POSTS
from sync.notify.web import SETTINGS_PATH, default_wiki
from sync.relay import deliver as relay_deliver
from sync.relay.emit import event_from_post
from sync.relay.targets.wiki import marker

pytestmark = [pytest.mark.stack, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

SITE = "news"
B, C, D = "3002", "3003", "3004"  # members of the bridge (subs); A is only on the wiki's list


def edit(site, title: str, text: str) -> None:
    result = site.post("edit", title=title, text=text, summary="test: member edit", token=site.get_token("csrf"))
    assert result["edit"]["result"] == "Success" and "nochange" not in result["edit"], result


class Clock:
    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def bridge_settings(mw, db_url, listed: str, smtp_port: int):
    return config.parse({
        "bridge": {"public_url": PUBLIC_URL, "secret_key": SECRET_KEY, "database_url": db_url,
                   "log_format": "console", "log_level": "error", "state_dir": "/tmp/space-bridge-notify-stack"},
        "wikimedia": {"oauth_base_url": "https://meta.wikimedia.org", "client_id": "c", "client_secret": "s"},
        "mediawiki": {"api_url": mw["api_url"], "username": mw["bot_user"], "password": mw["bot_password"]},
        "notify": {"email": {"sender": "space@example.org",
                             "smtp": {"host": "127.0.0.1", "port": smtp_port, "starttls": False,
                                      "timeout_seconds": 5}}},
        "relay": {"targets": [{"name": "wiki-subs", "kind": "wiki", "language": "en",
                               "options": {"subscribers_page": listed, "list_check_seconds": 0,
                                           "edits_per_minute": 6000}}],
                  "rules": [{"events": ["*"], "targets": ["wiki-subs"]}]},
        "outbox": {"poll_interval_seconds": 0.05, "lease_seconds": 30, "backoff_base_seconds": 0.05,
                   "backoff_max_seconds": 0.1, "max_attempts": 3},
    }, "<notify stack tests>")


def blog_post(post_id: int, title: str, at: dt.datetime) -> Post:
    aware = at.replace(tzinfo=dt.timezone.utc)
    return Post(id=post_id, title=title, content=f"<p>{title}: the whole story.</p>", excerpt=f"<p>{title}.</p>",
                status="publish", categories=("news",), category_names=("News",), tags=(), tag_names=(),
                author=Author(id=1, name="Editor"), permalink=f"http://blog.example/?p={post_id}",
                modified=aware, published=aware)


class Bridge:
    """The bridge's two paths and a worker running their jobs, on one database."""

    def __init__(self, settings, engine, clock: Clock):
        self.settings, self.engine, self.clock = settings, engine, clock
        self.outbox = Outbox(engine, settings.outbox)
        self.start()

    def start(self) -> None:
        """New handlers, as after a restart: new wiki clients, a new Sender."""
        self.sender = Sender(self.settings, self.engine, now=self.clock)
        self.sender.talk.min_interval = 0
        self.pool = relay_deliver.TargetPool(self.settings)
        self.handlers = {relay_deliver.DELIVER: relay_deliver.deliver_handler(self.settings, self.pool, self.engine),
                         PLAN: Planner(self.settings, self.engine),
                         fanout.DELIVER: self.sender.deliver, DIGEST: self.sender.digest}

    def close(self) -> None:
        self.pool.close()
        self.sender.talk.close()

    def relay(self, post: Post) -> str:
        event = event_from_post(SITE, post, updated=False)
        assert relay_deliver.relay(self.engine, self.settings, event)
        return event.id

    def notify(self, post: Post) -> str:
        """What the `blog.post_read` subscriber queues for a new post (fanout.on_post_read)."""
        h = happenings.from_blog_post(SITE, post, language="en", now=post.published)
        assert h is not None
        with self.engine.begin() as conn:
            enqueue(conn, PLAN, {"happening": happenings.to_dict(h)}, key=f"notify-plan:{h.id}")
        return h.id

    def run(self) -> None:
        """Run every due job as a worker does, until none is left; none may fail."""
        worker = Worker(self.outbox, self.handlers, threads=1, name="test-worker")
        deadline = time.monotonic() + 120
        while self.outbox.counts()["pending"] or self.outbox.counts()["running"]:
            assert time.monotonic() < deadline, self.outbox.counts()
            if not worker.run_once():
                time.sleep(0.05)
        jobs = self.outbox.list(limit=1000)
        assert [(j.kind, j.key, j.last_error) for j in jobs if j.state != "done" or j.last_error] == []

    def mark(self) -> int:
        """The newest job's id: the jobs of a step are those after it."""
        return max((j.id for j in self.outbox.list(limit=1)), default=0)

    def run_again(self, since: int) -> None:
        """Every job of the step once more (a retry), then once more with new handlers (a restart)."""
        for restart in (False, True):
            if restart:
                self.close()
                self.start()
            for job in sorted(self.outbox.list(limit=1000), key=lambda j: j.id):
                if job.id > since:
                    self.handlers[job.kind](job)

    def jobs(self, kind: str, sub: str | None = None) -> list:
        return [j for j in self.outbox.list(kind=kind, limit=1000) if sub is None or j.payload.get("sub") == sub]


def choose(client, sub: str, **form) -> None:
    """The member's choices, POSTed with the real form of /me/notifications."""
    token = log_in(client, sub)
    page = client.get(SETTINGS_PATH)
    assert page.status_code == 200
    answer = client.post(SETTINGS_PATH, data={"csrf_token": token, "categories": "", "tags": "", "languages": "",
                                              "frequency": "instant", **form})
    assert answer.status_code == 303, answer.get_data(as_text=True)


def sections_of(text: str) -> list[str]:
    """A page's level-2 sections, each from its heading."""
    return ["== " + part for part in re.split(r"(?m)^== ", text)[1:]]


def section_with(text: str, mark: str) -> str:
    [found] = [s for s in sections_of(text) if mark in s]
    return found


def unsubscribe_link(text: str) -> str:
    [link] = re.findall(r"\[(" + re.escape(PUBLIC_URL) + r"/me/notifications/unsubscribe\?t=[^\s\]]+) ", text)
    return link


def test_issue_16_against_the_real_wiki_and_mail_server(engine, db_url, mw, bot, member, smtp_inbox):
    tag = uuid.uuid4().hex[:8]
    listed = f"Space notify test/delivery list {tag}"
    names = {B: f"Notify B {tag}", C: f"Notify C {tag}", D: f"Notify D {tag}"}
    talk_a, talk_b, talk_c = f"User talk:Notify A {tag}", f"User talk:{names[B]}", f"User talk:{names[C]}"
    for sub, name in names.items():
        accounts.upsert_from_profile(engine, {"sub": int(sub), "username": name, "email": f"{sub}@example.org",
                                              "confirmed_email": True, "blocked": False, "groups": ["*", "user"]})
    settings = bridge_settings(mw, db_url, listed, smtp_inbox.port)
    wiki_host = default_wiki(settings)
    assert wiki_host == urlsplit(mw["api_url"]).netloc.lower()
    days = dt.datetime.combine(dt.datetime.now(dt.timezone.utc).date(), dt.time()) - dt.timedelta(days=6)
    clock = Clock(days + dt.timedelta(days=1, hours=10))
    bridge = Bridge(settings, engine, clock)
    app = create_app(settings, engine)
    post_ids = iter(range(int(tag, 16) % 10**6 * 100, 10**9))

    def post(title: str) -> Post:
        return blog_post(next(post_ids), f"{title} {tag}", clock())

    # -- who subscribed: A and C on the wiki's list (edited by hand, not by the bot), B on both,
    # B and C on /me/notifications. C's page keeps bots out.
    edit(member, talk_c, "Please no bots here. {{nobots}}")
    c_revision = bot.revision_id(talk_c)
    edit(member, listed, "Subscribers of Space news: add your line.\n"
                         f"* {{{{#target:{talk_c}}}}}\n* {{{{#target:{talk_b}}}}}\n")
    edit(member, listed, bot.page_revision(listed).text + f"\n* {{{{#target:{talk_a}}}}}")  # A subscribes
    for sub in (B, C):
        choose(app.test_client(), sub, events=[NEW_POSTS], channel="talk", wiki=wiki_host)
        prefs = preferences.get(engine, sub)
        assert (prefs.events, prefs.channel, prefs.wiki) == (frozenset({NEW_POSTS}), "talk", wiki_host)

    # -- 1. one post, both paths (the relay first), each page gets its section once
    step = bridge.mark()
    first = post("First news")
    event_id = bridge.relay(first)
    bridge.run()
    assert bridge.notify(first) == event_id == f"wp:{SITE}:{first.id}:published"
    bridge.run()
    assert {j.payload["sub"] for j in bridge.jobs(fanout.DELIVER)} == {B, C}
    bridge.run_again(step)
    for talk in (talk_a, talk_b):
        text = bot.page_revision(talk).text
        assert text.count(marker(event_id)) == 1, talk
        [heading] = [s.heading for s in bot.sections(talk)]
        assert f"First news {tag}" in heading, talk
    # -- 2. the page that says {{nobots}} is left alone, by both paths
    assert bot.revision_id(talk_c) == c_revision
    [c_job] = bridge.jobs(fanout.DELIVER, C)
    assert c_job.payload["notes"] == ["talk page not written: bots-denied"]

    # -- 3. A removes their line: the next post reaches B (the members' path first), not A
    clock.at = days + dt.timedelta(days=2, hours=10)
    lines = bot.page_revision(listed).text.splitlines()
    edit(member, listed, "\n".join(line for line in lines if talk_a not in line))
    step = bridge.mark()
    second = post("Second news")
    second_id = bridge.notify(second)
    bridge.run()
    assert bridge.relay(second) == second_id
    bridge.run()
    bridge.run_again(step)
    text_a, text_b = bot.page_revision(talk_a).text, bot.page_revision(talk_b).text
    assert marker(second_id) not in text_a and len(bot.sections(talk_a)) == 1
    assert text_b.count(marker(second_id)) == 1 and text_b.count(marker(event_id)) == 1
    assert len(bot.sections(talk_b)) == 2
    # the members' path wrote B's section: it carries the signed link that stops it
    assert unsubscribe_link(section_with(text_b, marker(second_id)))
    assert bot.revision_id(talk_c) == c_revision

    # -- 4. the cap: four posts in one UTC day, three sections, the fourth waits for the digest
    clock.at = days + dt.timedelta(days=3, hours=9)
    step = bridge.mark()
    capped = [post(f"Busy day {n}") for n in range(1, 5)]
    capped_ids = [bridge.notify(p) for p in capped]
    bridge.run()
    text_b = bot.page_revision(talk_b).text
    assert [text_b.count(marker(i)) for i in capped_ids] == [1, 1, 1, 0]
    assert len(bot.sections(talk_b)) == 5
    [folded] = [j for j in bridge.jobs(fanout.DELIVER, B) if j.payload["happening"]["id"] == capped_ids[3]]
    assert folded.payload["notes"] == ["3 talk-page edits today already: waits for the digest"]
    clock.at = days + dt.timedelta(days=4, hours=settings.notify.digest_hour_utc - 1, minutes=59)
    assert bridge.sender.enqueue_digests() == 0  # not yet the digest's hour
    clock.at = days + dt.timedelta(days=4, hours=settings.notify.digest_hour_utc, minutes=5)
    assert bridge.sender.enqueue_digests() == 1  # B's; C's folded nothing (bots-denied is no edit)
    assert bridge.sender.enqueue_digests() == 0  # the scheduler looks again: the same digest
    bridge.run()
    bridge.run_again(step)
    [digest_job] = bridge.jobs(DIGEST)
    text_b = bot.page_revision(talk_b).text
    assert len(bot.sections(talk_b)) == 6 and text_b.count(marker(digest_job.key)) == 1
    digest = section_with(text_b, marker(digest_job.key))
    assert digest.startswith("== Your Space digest: one item ==")
    assert f"Busy day 4 {tag}" in digest and not any(f"Busy day {n} {tag}" in digest for n in (1, 2, 3))
    assert [text_b.count(marker(i)) for i in capped_ids] == [1, 1, 1, 0]  # the digest's marker is its own
    assert bot.revision_id(talk_c) == c_revision

    # -- 5. unsubscribe from the page: the link of B's section about "Busy day 1"
    link = unsubscribe_link(section_with(text_b, marker(capped_ids[0])))
    assert link.startswith(PUBLIC_URL)
    anonymous = app.test_client()
    before = preferences.get(engine, B)
    confirm = anonymous.get(link.removeprefix(PUBLIC_URL))
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and names[B] in html
    assert preferences.get(engine, B) == before  # a GET (a mail scanner, a link preview) changes nothing
    action = re.search(r'<form class="actions" method="post" action="([^"]+)"', html).group(1)
    token = re.search(r'<input type="hidden" name="t" value="([^"]+)"', html).group(1)
    done = anonymous.post(action, data={"t": token})
    assert done.status_code == 200
    assert NEW_POSTS not in preferences.get(engine, B).events
    # D chooses email; the next post reaches D's inbox and not B's page
    choose(app.test_client(), D, events=[NEW_POSTS], channel="email", wiki="")
    clock.at = days + dt.timedelta(days=4, hours=10)
    b_revision = bot.revision_id(talk_b)
    step = bridge.mark()
    after = post("After leaving")
    after_id = bridge.notify(after)
    bridge.run()
    bridge.run_again(step)
    assert {j.payload["sub"] for j in bridge.jobs(fanout.DELIVER) if j.payload["happening"]["id"] == after_id} \
        == {C, D}
    assert bot.revision_id(talk_b) == b_revision
    [(sender_addr, to, msg)] = smtp_inbox.messages  # once, though its job ran three times
    assert (sender_addr, to) == ("space@example.org", [f"{D}@example.org"])
    assert f"After leaving {tag}" in msg["Subject"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # a mail client's one-click unsubscribe (RFC 8058 section 3.2), without logging in
    url = msg["List-Unsubscribe"].removeprefix("<").removesuffix(">")
    assert url.startswith(PUBLIC_URL + "/me/notifications/unsubscribe?t=")
    answer = app.test_client().post(url.removeprefix(PUBLIC_URL), data="List-Unsubscribe=One-Click",
                                    content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    assert NEW_POSTS not in preferences.get(engine, D).events
    last = post("Nobody left")
    last_id = bridge.notify(last)
    bridge.run()
    assert {j.payload["sub"] for j in bridge.jobs(fanout.DELIVER) if j.payload["happening"]["id"] == last_id} == {C}
    assert len(smtp_inbox.messages) == 1
    assert bot.revision_id(talk_b) == b_revision and bot.revision_id(talk_c) == c_revision
    bridge.close()

"""Sending what members chose (sync/notify/deliver.py): exactly once, the talk-page cap folding into
the digest, one message per digest, email through a real SMTP server with the RFC 8058 headers,
and nothing for a member who left. The wiki here is a recording stand-in for the one MediaWiki
client (tests/sync/notify/test_notify_stack.py does the same against the real MediaWiki)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from notify_helpers import ALICE, BOB, PUBLIC_URL, add_members, settings_for

from bridge.app import create_app
from bridge.clients.mediawiki import PageNotFound, PageRevision
from bridge.outbox import Outbox
from sync.notify import fanout, ledger, preferences
from sync.notify.channels import EmailChannel, TalkChannel
from sync.notify.deliver import DELIVER, DIGEST, Sender
from sync.notify.plan import MENTIONS, NEW_POSTS, REPLIES_TO_POSTS, Delivery, Happening
from sync.notify.preferences import Preferences

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


class Wiki:
    """The MediaWiki client's part the talk channel uses, keeping pages in memory."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        self.edits: list[tuple[str, str]] = []

    def page_revision(self, title, redirects=False):
        if title not in self.pages:
            raise PageNotFound(title)
        return PageRevision(title, 1, len(self.edits) + 1, "wikitext", self.pages[title])

    def append_section(self, title, heading, text, summary, create=True):
        self.pages[title] = self.pages.get(title, "") + f"\n== {heading} ==\n{text}"
        self.edits.append((title, summary))

    def close(self):
        pass


class Clock:
    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def choose(engine, sub, **kw) -> Preferences:
    base = dict(sub=sub, events=frozenset({NEW_POSTS, REPLIES_TO_POSTS, MENTIONS}), categories=frozenset(),
                tags=frozenset(), languages=frozenset(), channel="talk", frequency="instant",
                wiki="es.wikipedia.org", updated_at=None, language="en")
    prefs = Preferences(**{**base, **kw})
    preferences.save(engine, prefs)
    return prefs


def happening(n: int, **kw) -> Happening:
    return Happening(**{"id": f"wp:news:{n}:published", "kind": "new_post", "title": f"Post {n}",
                        "url": f"https://blog.example/{n}", "author_name": "Editor", **kw})


@pytest.fixture
def setup(engine, db_url, smtp_inbox):
    settings = settings_for(db_url, {"email": {"sender": "space@example.org",
                                               "smtp": {"host": "127.0.0.1", "port": smtp_inbox.port,
                                                        "starttls": False, "timeout_seconds": 5}}})
    add_members(engine)
    wiki = Wiki()
    clock = Clock(dt.datetime(2026, 12, 2, 10, 0))
    sender = Sender(settings, engine, talk=TalkChannel(settings, client=wiki), email=EmailChannel(settings), now=clock)
    sender.talk.min_interval = 0
    return settings, sender, wiki, clock


def run(engine, sender, kind=DELIVER):
    """Run the pending jobs as a worker would (claimed: one member's jobs one at a time); the
    jobs of `kind` that ran."""
    outbox = Outbox(engine)
    handlers = {DELIVER: sender.deliver, DIGEST: sender.digest}
    ran = []
    while jobs := outbox.claim("test-worker", 100):
        for job in jobs:
            handlers[job.kind](job)
            outbox.complete(job, "test-worker")
            if job.kind == kind:
                ran.append(job)
    return ran


def plan_for(engine, h, *subs_reasons):
    return fanout.enqueue_deliveries(engine, h, [Delivery(sub, h.id, reason, "", "") for sub, reason in subs_reasons])


def test_a_happening_reaches_the_talk_page_once_however_often_its_job_runs(engine, setup):
    settings, sender, wiki, clock = setup
    choose(engine, ALICE)
    h = happening(1, title="[[Main Page]] {{nobots}} <b>x</b>")
    assert plan_for(engine, h, (ALICE, NEW_POSTS)) == 1
    assert plan_for(engine, h, (ALICE, NEW_POSTS)) == 0  # the web hook again: nothing new is queued
    jobs = run(engine, sender)
    sender.deliver(jobs[0])  # a retry after a crash, and a restart
    Sender(settings, engine, talk=TalkChannel(settings, client=wiki), now=clock).deliver(jobs[0])
    page = wiki.pages["User talk:Alice Example"]
    assert len(wiki.edits) == 1 and page.count("== ") == 1
    assert "&#91;&#91;Main Page" in page and "[[Main Page]]" not in page and "{{nobots}}" not in page
    assert "<!-- space-bridge:wp:news:1:published -->" in page
    link = next(w for w in page.split() if "/me/notifications/unsubscribe?" in w).strip("[")
    assert link.startswith(PUBLIC_URL + "/me/notifications/unsubscribe?t=")


def test_a_page_that_says_nobots_is_left_alone(engine, setup):
    settings, sender, wiki, clock = setup
    choose(engine, ALICE)
    wiki.pages["User talk:Alice Example"] = "Please no bots here. {{nobots}}"
    plan_for(engine, happening(2), (ALICE, NEW_POSTS))
    run(engine, sender)
    assert wiki.edits == []
    assert ledger.talk_edits_since(engine, ALICE, dt.datetime(2026, 12, 2)) == 0


def test_the_fourth_talk_page_edit_of_a_day_waits_for_the_digest_in_one_section(engine, setup):
    settings, sender, wiki, clock = setup
    choose(engine, ALICE)
    for n in range(1, 6):
        plan_for(engine, happening(10 + n), (ALICE, NEW_POSTS))
    run(engine, sender)
    assert len(wiki.edits) == 3  # notify.talk_edits_per_day
    clock.at = dt.datetime(2026, 12, 2, 23, 0)
    plan_for(engine, happening(16), (ALICE, NEW_POSTS))
    run(engine, sender)
    assert len(wiki.edits) == 3  # still the same UTC day
    clock.at = dt.datetime(2026, 12, 3, 7, 59)
    assert sender.enqueue_digests() == 0  # before notify.digest_hour_utc
    clock.at = dt.datetime(2026, 12, 3, 8, 5)
    assert sender.enqueue_digests() == 1
    assert sender.enqueue_digests() == 0  # the scheduler looks again: the same digest
    jobs = run(engine, sender, DIGEST)
    sender.digest(jobs[0])  # run again: nothing more
    assert len(wiki.edits) == 4
    digest = wiki.pages["User talk:Alice Example"].split("== ")[-1]
    assert digest.startswith("Your Space digest: 3 items")
    assert all(f"Post {n}" in digest for n in (14, 15, 16)) and "Post 13" not in digest
    # a new day: the cap starts again
    plan_for(engine, happening(17), (ALICE, NEW_POSTS))
    run(engine, sender)
    assert len(wiki.edits) == 5


def test_a_member_who_chose_a_daily_digest_gets_one_message_a_day(engine, setup):
    settings, sender, wiki, clock = setup
    choose(engine, ALICE, frequency="daily")
    for n in (21, 22):
        plan_for(engine, happening(n), (ALICE, NEW_POSTS))
    run(engine, sender)
    assert wiki.edits == []
    clock.at = dt.datetime(2026, 12, 3, 9, 0)
    sender.enqueue_digests()
    run(engine, sender, DIGEST)
    assert len(wiki.edits) == 1 and "Post 21" in wiki.pages["User talk:Alice Example"]


def test_nothing_reaches_a_member_who_left_between_the_plan_and_the_delivery(engine, setup):
    settings, sender, wiki, clock = setup
    choose(engine, ALICE)
    plan_for(engine, happening(31), (ALICE, NEW_POSTS))
    preferences.unsubscribe(engine, ALICE, NEW_POSTS)
    run(engine, sender)
    assert wiki.edits == []
    notes = [j.payload.get("notes") for j in Outbox(engine).list() if j.kind == DELIVER]
    assert notes == [["the member no longer chose it"]]


def test_a_talk_page_on_a_wiki_without_the_bots_account_is_not_attempted(engine, setup):
    settings, sender, wiki, clock = setup
    choose(engine, ALICE, wiki="fr.wikipedia.org")
    plan_for(engine, happening(41), (ALICE, NEW_POSTS))
    run(engine, sender)
    assert wiki.edits == []
    [job] = [j for j in Outbox(engine).list() if j.kind == DELIVER]
    assert job.state == "done" and "no bot account on fr.wikipedia.org" in job.payload["notes"][0]


def test_email_carries_one_click_unsubscribe_headers_that_work_without_logging_in(engine, setup, smtp_inbox):
    settings, sender, wiki, clock = setup
    choose(engine, ALICE, channel="email", language="ar")
    sender.now = lambda: dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    plan_for(engine, happening(51, kind="reply", title="Budget <2027>", author_name="Bob"), (ALICE, REPLIES_TO_POSTS))
    run(engine, sender)
    [(sender_addr, to, msg)] = smtp_inbox.messages
    assert to == ["alice@example.org"] and sender_addr == "space@example.org"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Content-Language"] == "ar"
    html = msg.get_body(("html",)).get_content()
    assert 'dir="rtl"' in html and "Budget &lt;2027&gt;" in html and "<2027>" not in html
    url = msg["List-Unsubscribe"].strip("<>")
    assert url.startswith(PUBLIC_URL + "/me/notifications/unsubscribe?t=")
    client = create_app(settings, engine).test_client()
    token = parse_qs(urlsplit(url).query)["t"][0]
    answer = client.post("/me/notifications/unsubscribe?t=" + token, data="List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    assert REPLIES_TO_POSTS not in preferences.get(engine, ALICE).events
    assert MENTIONS in preferences.get(engine, ALICE).events  # the link stops what it was about


def test_a_member_without_a_confirmed_address_gets_no_email_and_the_job_says_why(engine, setup, smtp_inbox):
    settings, sender, wiki, clock = setup
    prefs = choose(engine, ALICE, channel="email")
    preferences.save(engine, dataclasses.replace(prefs, sub=BOB))  # Bob's address is not confirmed
    plan_for(engine, happening(61), (BOB, NEW_POSTS))
    run(engine, sender)
    assert smtp_inbox.messages == []
    [job] = [j for j in Outbox(engine).list() if j.kind == DELIVER]
    assert job.payload["notes"] == ["the member has no confirmed email address"]


def test_the_welcome_note_comes_once_when_the_operator_enables_it(engine, db_url, setup):
    from bridge import events
    from sync.notify.deliver import WELCOME

    settings, sender, wiki, clock = setup
    events.publish(settings, engine, "member.login", sub=ALICE)
    assert [j for j in Outbox(engine).list() if j.kind == WELCOME] == []  # off by default

    on = settings_for(db_url, {"welcome_note": True})
    sender = Sender(on, engine, talk=TalkChannel(on, client=wiki), now=clock)
    for _ in range(2):
        events.publish(on, engine, "member.login", sub=ALICE)
    [job] = [j for j in Outbox(engine).list() if j.kind == WELCOME]
    sender.welcome(job)
    sender.welcome(job)
    page = wiki.pages["User talk:Alice Example"]
    assert len(wiki.edits) == 1 and page.startswith("\n== Welcome to the Space ==")
    assert PUBLIC_URL + "/me/notifications?uselang=en" in page
    Outbox(engine).complete(Outbox(engine).claim("w", 10)[0], "w")
    events.publish(on, engine, "member.login", sub=ALICE)  # a later login: nothing new
    assert len([j for j in Outbox(engine).list() if j.kind == WELCOME]) == 1

"""The wiki target against the REAL MediaWiki of the local stack."""

import uuid
from urllib.parse import urlsplit

import mwclient
import pytest
from relay_helpers import drain, event, settings

from bridge.clients.mediawiki import MediaWikiClient
from bridge.outbox import Outbox
from sync.relay.deliver import TargetPool, deliver_handler, relay
from sync.relay.targets.wiki import marker, parse_subscribers

UA = "space-bridge-tests/0 (relay wiki target)"


def test_parse_subscribers_massmessage_formats():
    text = ("* [[User talk:Ana]]\n* {{target|page=User_talk:Bo}}\n* {{target|page=User talk:Far|site=fr.wikipedia.org}}\n"
            "<!-- [[User talk:Hidden]] -->\n* [[User:NotTalk]] [[:User talk:ana]] [[User talk:Ana|again]]")
    assert parse_subscribers(text) == ["User talk:Ana", "User talk:Bo"]


@pytest.fixture(scope="module")
def mw(stack):
    return stack["mediawiki"]


@pytest.fixture(scope="module")
def bot(mw):
    with MediaWikiClient(mw["api_url"], mw["bot_user"], mw["bot_password"], user_agent=UA) as c:
        yield c


def _settings(mw, db_url, targets, rules=None, max_attempts=3):
    return settings(targets, rules or [{"events": ["*"], "targets": [t["name"] for t in targets]}],
                    mediawiki={"api_url": mw["api_url"], "username": mw["bot_user"], "password": mw["bot_password"]},
                    outbox={"poll_interval_seconds": 0.05, "lease_seconds": 5, "backoff_base_seconds": 0.05,
                            "backoff_max_seconds": 0.1, "max_attempts": max_attempts},
                    database_url=db_url)


@pytest.mark.stack
def test_feed_and_subscribers_get_exactly_one_entry_even_when_delivered_twice(engine, db_url, mw, bot):
    tag = uuid.uuid4().hex[:8]
    feed, subs = f"Space relay test/feed {tag}", f"Space relay test/subscribers {tag}"
    talk_a, talk_b = f"User talk:Relay A {tag}", f"User talk:Relay B {tag}"
    bot.append_text(subs, f"* [[{talk_a}]]\n* {{{{target|page={talk_b}}}}}\n", "test: subscribers")
    s = _settings(mw, db_url, [{"name": "wiki-news", "kind": "wiki", "language": "es",
                                "options": {"page": feed, "subscribers_page": subs, "edits_per_minute": 600}}])
    e = event(id=f"discourse:topic:{tag}", title=f"Hola {tag}")
    relay(engine, s, e)
    outbox = Outbox(engine, s.outbox)
    handler = deliver_handler(s)
    drain(outbox, handler)
    [job] = outbox.list()
    assert job.state == "done"
    handler(job)  # the same job run again (a worker died after the edit)
    deliver_handler(s, TargetPool(s))(job)  # and after a restart (a new process, new pool)
    mark = marker(e.id)
    feed_text = bot.get_wikitext(feed)
    assert feed_text.count(mark) == 1 and feed_text.startswith("* <nowiki>Alice</nowiki> inició un tema")
    for talk in (talk_a, talk_b):
        assert bot.get_wikitext(talk).count(mark) == 1
        [section] = bot.sections(talk)
        assert section.heading == f"Alice inició un tema: Hola {tag}"
    # a second event goes on top of the feed
    relay(engine, s, event(id=f"discourse:topic:{tag}-2", title="Second"))
    drain(outbox, handler)
    assert bot.get_wikitext(feed).splitlines()[0].startswith("* <nowiki>Alice</nowiki> inició un tema: <nowiki>Second")
    assert len(bot.sections(talk_a)) == 2
    handler.pool.close()


@pytest.mark.stack
def test_protected_page_retries_then_dead_letters_while_another_target_succeeds(engine, db_url, mw, bot):
    tag = uuid.uuid4().hex[:8]
    protected, ok = f"Space relay test/protected {tag}", f"Space relay test/ok {tag}"
    bot.append_text(protected, "Protected", "test: create")
    api = urlsplit(mw["api_url"])
    admin = mwclient.Site(api.netloc, path=api.path.rpartition("/")[0] + "/", scheme=api.scheme, clients_useragent=UA)
    admin.clientlogin(username=mw["admin_user"], password=mw["admin_password"])
    admin.post("protect", title=protected, protections="edit=sysop", reason="test", token=admin.get_token("csrf"))
    s = _settings(mw, db_url, [
        {"name": "wiki-locked", "kind": "wiki", "options": {"page": protected, "retry_seconds": 0.05}},
        {"name": "wiki-ok", "kind": "wiki", "options": {"page": ok, "position": "bottom"}}])
    e = event(id=f"discourse:topic:p{tag}")
    relay(engine, s, e)
    outbox = Outbox(engine, s.outbox)
    handler = deliver_handler(s)
    drain(outbox, handler)
    jobs = {j.key: j for j in outbox.list()}
    locked, done = jobs[f"relay:{e.id}:wiki-locked"], jobs[f"relay:{e.id}:wiki-ok"]
    assert locked.state == "dead" and locked.attempts == 3 and "RetryLater" in locked.last_error
    assert "protect" in locked.last_error.lower()
    assert done.state == "done" and bot.get_wikitext(ok).count(marker(e.id)) == 1
    assert bot.get_wikitext(protected) == "Protected"
    # The operator lifts the protection and revives the dead delivery: it arrives, once.
    admin.post("protect", title=protected, protections="edit=all", reason="test", token=admin.get_token("csrf"))
    assert outbox.retry([locked.id]) == [locked.id]
    drain(outbox, handler)
    assert outbox.get(locked.id).state == "done"
    assert bot.get_wikitext(protected).count(marker(e.id)) == 1
    handler.pool.close()

"""The wiki target against the REAL MediaWiki of the local stack."""

import re
import unicodedata
import uuid
from urllib.parse import urlsplit

import mwclient
import pytest
from hypothesis import assume, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from relay_helpers import drain, event, settings

from bridge.outbox import Outbox
from sync.relay import escape
from sync.relay.deliver import TargetPool, deliver_handler, relay
from sync.relay.targets.wiki import marker, parse_subscribers

UA = "space-bridge-tests/0 (relay wiki target)"


def test_parse_subscribers_massmessage_formats():
    text = ("* [[User talk:Ana]]\n* {{target|page=User_talk:Bo}}\n* {{target|page=User talk:Far|site=fr.wikipedia.org}}\n"
            "<!-- [[User talk:Hidden]] -->\n* [[User:NotTalk]] [[:User talk:ana]] [[User talk:Ana|again]]")
    assert parse_subscribers(text) == ["User talk:Ana", "User talk:Bo"]


def test_edit_summary_is_cut_between_character_references():
    from sync.relay.settings import RelayTarget
    from sync.relay.render import render
    from sync.relay.targets.wiki import SUMMARY_CHARS, WikiTarget

    target = WikiTarget(None, RelayTarget(name="w", kind="wiki", options={"page": "P"}), client=object())
    for n in range(40):
        e = event(title="x" * n + "[[Category:Spam]]" * 40)
        summary = target._summary(render(e, "wiki", "en"), e)
        assert len(summary) <= SUMMARY_CHARS and "[" not in summary
        assert re.fullmatch(r"(?:[^&]|&#[0-9]+;)*", summary), summary[-12:]  # whole references only


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
    assert feed_text.count(mark) == 1 and feed_text.startswith("* Alice inició un tema")
    for talk in (talk_a, talk_b):
        assert bot.get_wikitext(talk).count(mark) == 1
        [section] = bot.sections(talk)
        assert section.heading == f"Alice inició un tema: Hola {tag}"
    # a second event goes on top of the feed
    relay(engine, s, event(id=f"discourse:topic:{tag}-2", title="Second"))
    drain(outbox, handler)
    assert bot.get_wikitext(feed).splitlines()[0].startswith("* Alice inició un tema: Second")
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


# -- member text never writes markup (issue 11, point 2) ---------------------------------------
HOSTILE = ["}}", "{{delete}}", "{{subst:X}}", "[[Category:Spam]]", "[[User:V]]", "~~~~", "~~~~~",
           "</NOWIKI>[[Category:X]]<nowiki>", "</nowiki >", "<ref>x</ref>", "__NOTOC__", "----", "== h ==",
           "<script>", "{{!}}", "[//evil.example x]", "ISBN 978-0-00-000000-2", "-{x}-", "'''b'''",
           "http://evil.example/free", "&amp; &#91;"]


def _reader(mw):
    api = urlsplit(mw["api_url"])
    return mwclient.Site(api.netloc, path=api.path.rpartition("/")[0] + "/", scheme=api.scheme, clients_useragent=UA)


def _parsed(site, page):
    """What MediaWiki's parser made of a page: its links, categories, sections and visible text."""
    from bs4 import BeautifulSoup

    p = site.get("parse", page=page, prop="categories|templates|externallinks|links|sections|text|properties",
                 disablelimitreport=1, formatversion=2)["parse"]
    soup = BeautifulSoup(p["text"], "html.parser")
    for hidden in soup.select(".mw-editsection, .toc, #toc"):
        hidden.decompose()
    text = soup.get_text(" ").replace("\u00a0", " ")
    info = site.get("query", titles=page, prop="info", formatversion=2)["query"]["pages"][0]
    return p, " ".join(text.split()), info


def _flat(text):
    return " ".join(text.split())


@pytest.mark.stack
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_hostile_titles_and_excerpts_show_as_text_on_the_feed_and_talk_pages(engine, db_url, mw, bot):
    tag = uuid.uuid4().hex[:8]
    feed, subs, talk = f"Space relay test/hostile {tag}", f"Space relay test/hostile subs {tag}", \
        f"User talk:Relay hostile {tag}"
    bot.append_text(subs, f"* [[{talk}]]\n", "test: subscribers")
    s = _settings(mw, db_url, [{"name": "wiki-feed", "kind": "wiki",
                                "options": {"page": feed, "subscribers_page": subs, "edits_per_minute": 600}}])
    hostile = " ".join(HOSTILE)
    redirect = "#REDIRECT [[X]] " + hostile  # at the start of what a member wrote
    events = [
        event(id=f"discourse:topic:h{tag}", title=redirect, excerpt=redirect, author="#REDIRECT [[X]]",
              category="[[Category:Cat]]", tags=("{{tag}}", "~~~")),
        event(id=f"discourse:post:h{tag}", type="reply.created", title=hostile, excerpt=redirect,
              author="== Mallory ==", url=f"https://space.example/t/hostile/{tag}/2"),
    ]
    for e in events:
        relay(engine, s, e)
    outbox = Outbox(engine, s.outbox)
    handler = deliver_handler(s)
    drain(outbox, handler)
    handler.pool.close()
    assert {j.state for j in Outbox(engine, s.outbox).list()} == {"done"}

    site = _reader(mw)
    bridge_links = {e.url for e in events}
    for page in (feed, talk):
        parsed, text, info = _parsed(site, page)
        assert parsed["categories"] == [], (page, parsed["categories"])
        assert parsed["templates"] == [], (page, parsed["templates"])
        assert parsed["links"] == [], (page, parsed["links"])  # no [[User:V]], no signature link
        assert set(parsed["externallinks"]) == bridge_links, (page, parsed["externallinks"])
        assert parsed["properties"] == {} or parsed["properties"] == [], (page, parsed["properties"])
        assert "redirect" not in info
        for e in events:
            assert _flat(e.title) in text, (page, e.title, text)
            assert _flat(e.excerpt) in text
            assert f"{_flat(e.author)}" in text
        if page == talk:  # the feed holds each message's first line only
            assert "Category: [[Category:Cat]]" in text and "Tags: {{tag}}, ~~~" in text
    # the feed: one list item per event, no heading at all; the talk page: one section each,
    # headed with the member's text as typed
    assert _parsed(site, feed)[0]["sections"] == []
    sections = bot.sections(talk)
    assert [x.heading for x in sections] == [
        _flat(f"#REDIRECT [[X]] started a topic: {redirect}"),
        _flat(f"== Mallory == replied to {hostile}"),
    ]
    assert all(x.level == 2 for x in sections)


PIECES = st.sampled_from(HOSTILE + ["#REDIRECT [[X]]", "* ", ": ", "; ", "# ", " ", "=", "'", "|", "!", "&", "<",
                                    "RFC 1234 ", "PMID 42 ", "mailto:x@y.example", "__TOC__", "<!--", "-->"])
SAMPLE = st.lists(st.one_of(PIECES, st.text(st.characters(exclude_categories=("Cs", "Co", "Cn")), max_size=6)),
                  min_size=1, max_size=12).map("".join)


@pytest.mark.stack
@hyp_settings(max_examples=40, deadline=None)
@given(text=SAMPLE)
def test_escaped_text_round_trips_through_the_real_parser(mw, text):
    """A random sample of member text, escaped, as a heading and a line on the real MediaWiki
    (action=parse with the pre-save transform that expands signatures and subst:)."""
    from bs4 import BeautifulSoup

    expected = " ".join(unicodedata.normalize("NFC", escape.clean(text)).split())
    assume(expected)
    inert = escape.wikitext(text)
    site = _reader(mw)
    p = site.post("parse", title="Space relay test/round trip", text=f"== {inert} ==\n{inert} ~~~~~\n* {inert}\n",
                  contentmodel="wikitext", pst=1, disablelimitreport=1, formatversion=2,
                  prop="categories|templates|externallinks|links|sections|text|properties")["parse"]
    assert (p["categories"], p["templates"], p["links"], p["externallinks"]) == ([], [], [], [])
    assert len(p["sections"]) == 1
    soup = BeautifulSoup(p["text"], "html.parser")
    for hidden in soup.select(".mw-editsection"):
        hidden.decompose()

    def shown(node):
        return " ".join(node.get_text().replace("\u00a0", " ").split())

    assert shown(soup.select_one(".mw-headline")) == expected
    assert shown(soup.select_one("li")) == expected
    assert shown(soup.select_one("p")).startswith(expected + " ")

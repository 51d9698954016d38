"""Members subscribe themselves on the wiki (issue 16, part 1), against the REAL MediaWiki of
the local stack: a MassMessage-style delivery list (wikitext {{#target:}} lines, or JSON) names
the talk pages the wiki target writes to; {{nobots}}/{{bots|deny=}} keep the bridge out of a
page; removing one's line stops the deliveries."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

import pytest
from relay_helpers import drain, event, settings

from bridge.outbox import Outbox
from sync.relay.deliver import TargetPool, deliver_handler, relay
from sync.relay.targets import wiki as wiki_target
from sync.relay.targets.wiki import marker

pytestmark = [pytest.mark.stack, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]



def edit(site, title: str, text: str, **extra) -> None:
    result = site.post("edit", title=title, text=text, summary="test: member edit", token=site.get_token("csrf"),
                       **extra)
    assert result["edit"]["result"] == "Success" and "nochange" not in result["edit"], result


def wiki_settings(mw, db_url, options: dict):
    return settings([{"name": "wiki-subs", "kind": "wiki", "language": "en",
                      "options": {"edits_per_minute": 6000, **options}}],
                    [{"events": ["*"], "targets": ["wiki-subs"]}],
                    mediawiki={"api_url": mw["api_url"], "username": mw["bot_user"], "password": mw["bot_password"]},
                    outbox={"poll_interval_seconds": 0.05, "lease_seconds": 5, "backoff_base_seconds": 0.05,
                            "backoff_max_seconds": 0.1, "max_attempts": 3},
                    database_url=db_url)


def deliver(engine, s, e) -> list:
    """Relay one event and run its delivery, then run the same job twice more: once as a
    retry would (same pool) and once as after a restart (a new pool, a new wiki client)."""
    relay(engine, s, e)
    outbox = Outbox(engine, s.outbox)
    handler = deliver_handler(s)
    drain(outbox, handler)
    jobs = [j for j in outbox.list() if j.key.startswith(f"relay:{e.id}:")]
    assert [j.state for j in jobs] == ["done"], [(j.state, j.last_error) for j in jobs]
    handler(jobs[0])
    deliver_handler(s, TargetPool(s))(jobs[0])
    handler.pool.close()
    return jobs


def test_a_member_subscribes_by_editing_the_list_and_leaves_by_removing_the_line(engine, db_url, mw, bot, member,
                                                                                  record_logs):
    tag = uuid.uuid4().hex[:8]
    listed = f"Space relay test/subscribers list {tag}"
    talk_a, nobots, denied = (f"User talk:List member A {tag}", f"User talk:List nobots {tag}",
                              f"User talk:List denies {tag}")
    bot_name = mw["bot_user"].partition("@")[0]
    edit(member, nobots, "Please no bots here. {{nobots}}")
    edit(member, denied, f"Talk to me. {{{{bots|deny=SomeOtherBot, {bot_name.lower()}}}}}")
    untouched = {p: bot.revision_id(p) for p in (nobots, denied)}
    edit(member, listed, "Subscribers of Space news: add your line.\n"
                         f"* {{{{#target:{nobots}}}}}\n* {{{{#target:{denied}}}}}\n"
                         f"* {{{{#target:User talk:Far away {tag}|meta.wikimedia.org}}}}\n")
    # Member A subscribes: one more line.
    edit(member, listed, bot.page_revision(listed).text + f"\n* {{{{#target:{talk_a}}}}}")
    s = wiki_settings(mw, db_url, {"subscribers_page": listed, "list_check_seconds": 0})

    first = event(id=f"discourse:topic:l{tag}", title=f"First news {tag}")
    logs = record_logs(wiki_target)
    deliver(engine, s, first)
    text = bot.page_revision(talk_a).text
    assert text.count(marker(first.id)) == 1
    assert [x.heading for x in bot.sections(talk_a)] == [f"Alice started a topic: First news {tag}"]
    # pages that keep bots out, or live on another wiki, are left alone; the job still succeeded
    assert {p: bot.revision_id(p) for p in untouched} == untouched
    assert bot.revision_id(f"User talk:Far away {tag}") is None
    denials = [entry["page"] for entry in logs if entry["event"] == "relay.wiki_bots_denied"]
    assert set(denials) == {nobots, denied}
    assert any(entry["event"] == "relay.wiki_list_other_site" and entry["site"] == "meta.wikimedia.org"
               for entry in logs)

    # A removes their line: the next event does not reach them (the new revision is seen).
    lines = bot.page_revision(listed).text.splitlines()
    edit(member, listed, "\n".join(line for line in lines if talk_a not in line))
    second = event(id=f"discourse:topic:l2{tag}", title=f"Second news {tag}")
    deliver(engine, s, second)
    text = bot.page_revision(talk_a).text
    assert marker(second.id) not in text and text.count(marker(first.id)) == 1
    assert len(bot.sections(talk_a)) == 1
    assert {p: bot.revision_id(p) for p in untouched} == untouched


class Counting:
    """The real client, counting the requests the wiki target makes for the list page."""

    def __init__(self, client, page):
        self.client, self.page = client, page
        self.reads = self.checks = 0

    def page_revision(self, title, **kw):
        self.reads += title == self.page
        return self.client.page_revision(title, **kw)

    def revision_id(self, title, **kw):
        self.checks += title == self.page
        return self.client.revision_id(title, **kw)

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_the_list_is_read_again_only_when_its_revision_changed(engine, db_url, mw, bot, member):
    from sync.relay.settings import RelayTarget
    from sync.relay.targets.wiki import WikiTarget

    tag = uuid.uuid4().hex[:8]
    listed = f"Space relay test/subscribers cached {tag}"
    edit(member, listed, f"* {{{{#target:User talk:Cached A {tag}}}}}\n")
    s = wiki_settings(mw, db_url, {"subscribers_page": listed, "list_check_seconds": 0})
    target_conf = s.relay.targets[0]
    counting = Counting(bot, listed)
    target = WikiTarget(s, target_conf, client=counting)
    assert target.pages() == [f"User talk:Cached A {tag}"]
    assert target.pages() == [f"User talk:Cached A {tag}"]
    assert (counting.reads, counting.checks) == (1, 1)  # the second time: the revision id alone
    edit(member, listed, f"* {{{{#target:User talk:Cached B {tag}}}}}\n")
    assert target.pages() == [f"User talk:Cached B {tag}"]
    assert (counting.reads, counting.checks) == (2, 2)
    # Another target of the same process (a new pool) shares the parsed list; with the default
    # interval it does not even look at the revision id for up to 300 seconds.
    again = Counting(bot, listed)
    patient = WikiTarget(s, RelayTarget(name="w2", kind="wiki",
                                        options={"subscribers_page": listed}), client=again)
    assert patient.list_check_seconds == 300
    assert patient.pages() == [f"User talk:Cached B {tag}"]
    assert (again.reads, again.checks) == (0, 0)


def test_a_json_delivery_list(engine, db_url, mw, bot, member):
    tag = uuid.uuid4().hex[:8]
    listed = f"Space relay test/subscribers json {tag}"
    here = urlsplit(mw["api_url"]).hostname
    talk_a, talk_b = f"User talk:Json member A {tag}", f"User talk:Json member B {tag}"
    edit(member, listed, json.dumps({"description": "Space news subscribers", "targets": [
        {"title": talk_a.replace(" ", "_")}, {"title": talk_b, "site": here},
        {"title": f"User talk:Json far {tag}", "site": "meta.wikimedia.org"}]}), contentmodel="json")
    assert bot.page_revision(listed).content_model == "json"
    s = wiki_settings(mw, db_url, {"subscribers_page": listed, "list_check_seconds": 0})
    e = event(id=f"discourse:topic:j{tag}", title=f"Json news {tag}")
    deliver(engine, s, e)
    for talk in (talk_a, talk_b):
        assert bot.page_revision(talk).text.count(marker(e.id)) == 1
        assert len(bot.sections(talk)) == 1
    assert bot.revision_id(f"User talk:Json far {tag}") is None

"""The wiki target's delivery list without a wiki: what a member-edited list cannot do to the
other members (an unreadable list, a protected or non-wikitext talk page) and the bounds of
list_check_seconds. The same flows against the real MediaWiki: test_relay_wiki_lists.py."""

from __future__ import annotations

import uuid

import pytest
from relay_helpers import event, settings

from bridge.clients.mediawiki import PageNotFound, PageProtected, PageRevision
from bridge.config import ConfigError
from sync.relay.render import render
from sync.relay.targets import wiki as wiki_target
from sync.relay.targets.wiki import WikiTarget, marker

MW = {"api_url": "https://wiki.example.test/w/api.php", "username": "Relaybot@bridge", "password": "x" * 32}


class Wiki:
    """Pages as (content model, text); edits recorded."""

    def __init__(self, pages: dict[str, tuple[str, str]]):
        self.pages = dict(pages)
        self.edits: list[str] = []
        self.protected: set[str] = set()

    def page_revision(self, title, redirects=False):
        if title not in self.pages:
            raise PageNotFound(title)
        model, text = self.pages[title]
        return PageRevision(title, 1, 1, model, text)

    def revision_id(self, title, redirects=False):
        return 1 if title in self.pages else None

    def append_section(self, title, heading, text, summary):
        if title in self.protected:
            raise PageProtected(f"{title} is protected", code="protectedpage")
        model, old = self.pages.get(title, ("wikitext", ""))
        self.pages[title] = (model, old + f"\n== {heading} ==\n{text}")
        self.edits.append(title)

    def close(self):
        pass


def target(wiki: Wiki, listed: str, **options) -> WikiTarget:
    s = settings([{"name": "w", "kind": "wiki", "options": {"subscribers_page": listed, "edits_per_minute": 10 ** 6,
                                                            "list_check_seconds": 0, **options}}], [], mediawiki=MW)
    return WikiTarget(s, s.relay.targets[0], client=wiki)


def test_an_unreadable_json_list_delivers_to_nobody_and_says_so(record_logs):
    listed = f"Subs {uuid.uuid4().hex}"
    wiki = Wiki({listed: ("json", '{"targets": "User talk:Ana"}')})
    e = event()
    logs = record_logs(wiki_target)
    target(wiki, listed).deliver(render(e, "wiki", "en"), e)
    assert wiki.edits == []
    assert any(entry["event"] == "relay.wiki_list_unreadable" for entry in logs)


def test_one_member_page_that_refuses_does_not_hold_back_the_others():
    listed = f"Subs {uuid.uuid4().hex}"
    wiki = Wiki({listed: ("wikitext", "{{#target:User talk:Locked}}\n{{#target:User talk:Board}}\n"
                                      "{{#target:User talk:Bo}}\n{{#target:Special:Log}}\n"
                                      "{{#target:User talk:Same host|WIKI.example.test}}"),
                 "User talk:Board": ("flow-board", "{}")})
    wiki.protected.add("User talk:Locked")
    e = event(id=f"discourse:topic:{uuid.uuid4().hex}")
    t = target(wiki, listed)
    t.deliver(render(e, "wiki", "en"), e)
    t.deliver(render(e, "wiki", "en"), e)  # a retry: nothing new
    assert wiki.edits == ["User talk:Bo", "User talk:Same host"]
    assert wiki.pages["User talk:Bo"][1].count(marker(e.id)) == 1
    assert wiki.pages["User talk:Board"] == ("flow-board", "{}")


def test_the_bot_is_named_by_the_account_of_its_bot_password():
    listed = f"Subs {uuid.uuid4().hex}"
    wiki = Wiki({listed: ("wikitext", "{{#target:User talk:Ana}}{{#target:User talk:Bo}}"),
                 "User talk:Ana": ("wikitext", "{{bots|deny=RelayBot}}"),
                 "User talk:Bo": ("wikitext", "{{bots|deny=Bridge}}")})  # the bot password's name is not the bot
    e = event()
    target(wiki, listed).deliver(render(e, "wiki", "en"), e)
    assert wiki.edits == ["User talk:Bo"]


@pytest.mark.parametrize("value", [-1, 301, "soon"])
def test_list_check_seconds_is_at_most_five_minutes(value):
    with pytest.raises(ConfigError, match="list_check_seconds"):
        settings([{"name": "w", "kind": "wiki", "options": {"subscribers_page": "S", "list_check_seconds": value}}],
                 [], mediawiki=MW)

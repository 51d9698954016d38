"""MediaWikiClient.page_revision() and revision_id() against the REAL MediaWiki of the local
stack: the relay reads a delivery list (any content model) in one request and afterwards only
asks whether its revision changed."""

from __future__ import annotations

import json
import uuid

import pytest

from bridge.clients.mediawiki import InvalidTitle, PageNotFound, PageRevision

pytestmark = pytest.mark.stack


def unique_title(what: str) -> str:
    return f"Space bridge client test/{what} {uuid.uuid4().hex[:10]}"


def test_page_revision_gives_id_model_and_text_and_revision_id_follows_edits(bot):
    title = unique_title("revision")
    created = bot.append_text(title, "{{#target:User talk:Ana}}", "test: create")
    rev = bot.page_revision(title)
    assert rev == PageRevision(title=title, page_id=created.page_id, revision_id=created.revision_id,
                               content_model="wikitext", text="{{#target:User talk:Ana}}")
    assert bot.revision_id(title) == created.revision_id
    edited = bot.append_text(title, "\n{{#target:User talk:Bo}}", "test: add")
    assert bot.revision_id(title) == edited.revision_id > created.revision_id
    assert bot.page_revision(title.replace(" ", "_")).text.endswith("{{#target:User talk:Bo}}")


def test_a_json_page_is_read_with_its_content_model(bot, member):
    title = unique_title("json list")
    body = json.dumps({"description": "Space news", "targets": [{"title": "User talk:Ana"}]})
    member.post("edit", title=title, text=body, contentmodel="json", summary="test: json list",
                token=member.get_token("csrf"))
    rev = bot.page_revision(title)
    assert rev.content_model == "json"
    assert json.loads(rev.text)["targets"] == [{"title": "User talk:Ana"}]
    assert bot.revision_id(title) == rev.revision_id


def test_missing_and_invalid_titles(bot):
    title = unique_title("missing")
    with pytest.raises(PageNotFound):
        bot.page_revision(title)
    assert bot.revision_id(title) is None
    with pytest.raises(InvalidTitle):
        bot.page_revision("User talk:[not a title]")
    with pytest.raises(InvalidTitle):
        bot.revision_id("User talk:[not a title]")


def test_redirects_are_followed_only_when_asked(bot):
    target, moved = unique_title("list target"), unique_title("list moved")
    bot.append_text(target, "{{#target:User talk:Ana}}", "test: list")
    bot.append_text(moved, f"#REDIRECT [[{target}]]", "test: redirect")
    followed = bot.page_revision(moved, redirects=True)
    assert (followed.title, followed.text) == (target, "{{#target:User talk:Ana}}")
    assert bot.revision_id(moved, redirects=True) == followed.revision_id
    assert bot.page_revision(moved).text == f"#REDIRECT [[{target}]]"

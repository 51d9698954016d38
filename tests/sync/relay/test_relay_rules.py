import itertools

import pytest
from relay_helpers import event, settings

from sync.relay.events import EVENT_TYPES
from sync.relay.rules import route

TARGETS = [
    {"name": "wiki-news", "kind": "wiki", "options": {"page": "Space/News"}},
    {"name": "irc-public", "kind": "irc"},
    {"name": "irc-mods", "kind": "irc", "private": True},
    {"name": "chat-es", "kind": "apprise", "language": "es"},
]


def names(relay, e):
    return [t.name for t in route(relay.relay, e)]


def test_event_type_and_filters():
    s = settings(TARGETS, [
        {"events": ["topic.created"], "targets": ["wiki-news"], "categories": ["News"]},
        {"events": ["topic.created"], "targets": ["irc-public"], "tags": ["wiki", "other"]},
        {"events": ["*"], "targets": ["chat-es"], "languages": ["es"]},
    ])
    assert names(s, event()) == ["wiki-news", "irc-public"]
    assert names(s, event(category="events", tags=())) == []
    assert names(s, event(language="es-MX")) == ["wiki-news", "irc-public", "chat-es"]
    assert names(s, event(type="reply.created", language="es")) == ["chat-es"]


def test_mute_wins_whatever_the_order():
    s = settings(TARGETS, [
        {"events": ["topic.created"], "targets": ["irc-public"], "sites": ["discourse"], "mute": True},
        {"events": ["topic.created"], "targets": ["irc-public", "wiki-news"]},
    ])
    assert names(s, event()) == ["wiki-news"]
    assert names(s, event(site="blog")) == ["wiki-news", "irc-public"]


def test_a_flag_never_reaches_a_public_target():
    """Whatever the rules say: every rule combination, every public target."""
    all_names = [t["name"] for t in TARGETS]
    rules = [{"events": ["flag.created"], "targets": all_names},
             {"events": ["*"], "targets": all_names},
             {"events": list(EVENT_TYPES), "targets": ["irc-public", "wiki-news"]}]
    for n in range(1, len(rules) + 1):
        for combo in itertools.combinations(rules, n):
            s = settings(TARGETS, list(combo))
            for private_flag in (False, True):
                reached = route(s.relay, event(type="flag.created", private=private_flag))
                assert all(t.private for t in reached), combo
                assert [t.name for t in reached] in ([], ["irc-mods"])
            if any("irc-mods" in r["targets"] for r in combo):
                assert [t.name for t in route(s.relay, event(type="flag.created"))] == ["irc-mods"]


def test_private_events_of_any_type_only_to_private_targets():
    s = settings(TARGETS, [{"events": ["*"], "targets": ["irc-public", "irc-mods"]}])
    assert names(s, event(type="user.suspended", private=True)) == ["irc-mods"]
    assert names(s, event(type="topic.created", private=True)) == ["irc-mods"]


def test_categories_by_name_or_forum_id():
    s = settings(TARGETS, [
        {"events": ["*"], "targets": ["wiki-news"], "categories": ["announcements"]},
        {"events": ["*"], "targets": ["irc-public"], "categories": [12]},
        {"events": ["*"], "targets": ["chat-es"], "categories": ["12"]},
    ])
    forum = dict(category="Announcements", category_id=12)
    assert names(s, event(**forum)) == ["wiki-news", "irc-public", "chat-es"]
    assert names(s, event(category="Announcements", category_id=13)) == ["wiki-news"]
    assert names(s, event(category="12")) == ["chat-es"]  # a blog category named "12"
    assert names(s, event(category="Other", category_id=12)) == ["irc-public", "chat-es"]
    assert names(s, event(category=None, category_id=None)) == []


def test_restricted_forum_content_only_to_private_targets():
    s = settings(TARGETS, [{"events": ["*"], "targets": [t["name"] for t in TARGETS]}])
    for reason in ("read-restricted category Staff", "unlisted topic", "whisper", "unknown category 4"):
        for kind in ("topic.created", "reply.created"):
            assert names(s, event(type=kind, private_reason=reason)) == ["irc-mods"]
    assert names(s, event()) == ["wiki-news", "irc-public", "irc-mods", "chat-es"]


def test_config_check_refuses_a_category_that_is_neither_a_name_nor_an_id():
    from bridge.config import ConfigError

    for bad in (0, -3, "", "   ", True, None, 1.5):
        with pytest.raises(ConfigError) as err:
            settings(TARGETS, [{"events": ["*"], "targets": ["wiki-news"], "categories": ["News", bad]}])
        assert "relay.rules[0].categories[1]" in str(err.value), bad

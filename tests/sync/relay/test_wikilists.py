"""Delivery lists and the {{bots}} convention (sync/relay/wikilists.py): what members type on a
wiki page decides who gets a talk page message, so every shape of text is read, none raises."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from sync.relay.wikilists import (Target, bots_allow, normalize_title, parse_delivery_list, parse_json_list,
                                  parse_wikitext_list)

# -- wikitext lists ----------------------------------------------------------------------------


def test_target_lines_with_and_without_a_site():
    text = ("== Subscribers ==\n"
            "* {{#target:User talk:Ana}}\n"
            "* {{#target:User talk:Bo|meta.wikimedia.org}}\n"
            "* {{#target: user_talk:carla_maría |}}\n"  # empty site: this wiki
            "* {{#TARGET:User talk:Dee| Meta.Wikimedia.org }}\n")
    assert parse_wikitext_list(text) == [
        Target("User talk:Ana"), Target("User talk:Bo", "meta.wikimedia.org"),
        Target("User talk:Carla maría"), Target("User talk:Dee", "meta.wikimedia.org")]


def test_older_forms_are_still_read_in_page_order():
    text = ("* [[User talk:Ana]]\n* {{target|page=User_talk:Bo}}\n"
            "* {{target|page=User talk:Far|site=fr.wikipedia.org}}\n"
            "* [[User:NotTalk]] [[:User talk:ana]] [[User talk:Ana|again]] [[Talk:Space#News|news]]\n"
            "* {{#target:User talk:Ana}}")
    assert parse_wikitext_list(text) == [Target("User talk:Ana"), Target("User talk:Bo"),
                                         Target("User talk:Far", "fr.wikipedia.org"), Target("Talk:Space")]


def test_what_the_parser_would_not_read_is_not_a_subscription():
    text = ("<!-- {{#target:User talk:Commented}} -->\n"
            "<nowiki>{{#target:User talk:Nowiki}}</nowiki>\n"
            "<pre>{{#target:User talk:Pre}}</pre>\n"
            "<includeonly>{{#target:User talk:Included}}</includeonly>\n"
            "{{#target:User talk:Bad[name]}} {{#target:}} {{#target:User talk:}} {{#target:Special:x|{{site}}}}\n"
            "{{#target:{{PAGENAME}}}} {{#target:User talk:A&amp;B}}\n"
            "* {{#target:User talk:Kept}}\n"
            "<!-- an unclosed comment hides the rest {{#target:User talk:Late}}")
    assert parse_wikitext_list(text) == [Target("User talk:Kept")]


def test_a_call_nested_in_another_is_read_as_the_parser_would():
    # The parser expands the inner call first (it records its target and outputs nothing);
    # the outer one is then left without a page.
    assert parse_wikitext_list("{{#target:{{#target:User talk:Inner}}}}") == [Target("User talk:Inner")]
    assert parse_wikitext_list("{{Box|{{#target:User talk:In a box}}}}") == [Target("User talk:In a box")]
    # an unclosed nowiki is plain text: what follows it still counts
    assert parse_wikitext_list("<nowiki>\n{{#target:User talk:Ana}}") == [Target("User talk:Ana")]


def test_titles_are_normalised_like_mediawiki_titles():
    assert normalize_title("user_talk:ana__maría") == "User talk:Ana maría"
    assert normalize_title("  USER TALK :  bo ") == "User talk:Bo"
    assert normalize_title(":User talk:ana#Section") == "User talk:Ana"
    assert normalize_title("image talk:x.png") == "File talk:X.png"
    assert normalize_title("wikipedia talk:tech news") == "Wikipedia talk:tech news"  # project ns unknown here
    assert normalize_title("User talk:ßig") == "User talk:ßig"
    for bad in ("", "   ", "User talk:", "a[b", "a{b}", "a|b", "a<b>", "a%41", "x&amp;y", "../x", "a~~~b",
                "é" * 128, None, 3, ["User talk:A"]):
        assert normalize_title(bad) is None, bad


# -- JSON lists ----------------------------------------------------------------------------------

def test_json_delivery_list_with_and_without_sites():
    text = json.dumps({"description": "Space news", "targets": [
        {"title": "User talk:Ana"}, {"title": "user_talk:bo", "site": "meta.wikimedia.org"},
        {"title": "User talk:Ana"}]})
    for model in ("MassMessageListContent", "json"):
        assert parse_delivery_list(text, model) == [Target("User talk:Ana"),
                                                    Target("User talk:Bo", "meta.wikimedia.org")]


def test_json_targets_of_the_wrong_shape_are_skipped_the_rest_read():
    text = json.dumps({"targets": [1, "User talk:Str", None, [], {"title": 5}, {"site": "x"},
                                   {"title": "User talk:Ok", "site": 7}, {"title": "User talk:[bad]"},
                                   {"title": "User talk:Good", "site": None}, {"title": "User talk:Also", "x": 1}]})
    assert parse_json_list(text) == [Target("User talk:Good"), Target("User talk:Also")]


@pytest.mark.parametrize("text", ["", "{", "not json", "[]", "3", "null", '"s"', '{"targets": {}}',
                                  '{"description": "no targets"}', "[" * 100_000 + "]" * 100_000])
def test_unreadable_json_is_a_clear_value_error(text):
    with pytest.raises(ValueError, match="delivery list"):
        parse_delivery_list(text, "json")


def test_a_page_of_another_model_lists_nobody():
    assert parse_delivery_list("{{#target:User talk:Ana}}", "css") == []
    assert parse_delivery_list("{{#target:User talk:Ana}}", "wikitext") == [Target("User talk:Ana")]


# -- hostile input ---------------------------------------------------------------------------------

def _timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t0


def test_ten_thousand_lines_read_quickly():
    text = "\n".join(f"* {{{{#target:User talk:Member {i}}}}}" for i in range(10_000))
    targets, took = _timed(parse_wikitext_list, text)
    assert len(targets) == 10_000 and targets[9_999] == Target("User talk:Member 9999")
    assert took < 2.0, took
    big = json.dumps({"description": "", "targets": [{"title": f"User talk:M{i}"} for i in range(100_000)]})
    targets, took = _timed(parse_json_list, big)
    assert len(targets) == 100_000 and took < 5.0, took


@pytest.mark.parametrize("text", [
    "{{" * 50_000, "}}" * 50_000, "{{#target:" * 20_000, "[[" * 50_000 + "}}" * 50_000,
    "<!--" * 30_000, "<nowiki>" * 30_000, "[[User talk:" * 20_000, "{{#target:User talk:A|" * 20_000 + "}}" * 20_000,
    "[[a|" + "x" * 200_000, "{{bots|deny=" * 20_000])
def test_pathological_text_is_read_in_linear_time(text):
    _, took = _timed(parse_wikitext_list, text)
    assert took < 2.0, took
    _, took = _timed(bots_allow, text, "Bridge")
    assert took < 2.0, took


wikiish = st.lists(st.sampled_from(list("{}[]|:#=<>!-/ \naAbB_é") + [
    "{{#target:", "}}", "[[", "]]", "<!--", "-->", "<nowiki>", "</nowiki>", "User talk:", "{{target|page=",
    "{{nobots}}", "{{bots|deny=", "|site="]), max_size=120).map("".join)


@hyp_settings(max_examples=400, deadline=None)
@given(wikiish)
def test_any_wikitext_gives_valid_normalised_targets_and_never_raises(text):
    targets = parse_wikitext_list(text)
    assert len(set(targets)) == len(targets)
    for t in targets:
        assert normalize_title(t.title) == t.title  # already normalised
        assert t.site is None or (t.site == t.site.strip().lower() and t.site)
    assert isinstance(bots_allow(text, "Bridge"), bool)


@hyp_settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["title", "site", "targets", "description", "x"]), inner, max_size=4),
                    max_leaves=30))
def test_any_json_gives_targets_or_a_value_error(data):
    try:
        targets = parse_json_list(json.dumps(data))
    except ValueError as exc:
        assert "delivery list" in str(exc)
        return
    assert all(isinstance(t, Target) and normalize_title(t.title) == t.title for t in targets)


@hyp_settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_a_listed_title_survives_the_list_as_written(name):
    title = normalize_title("User talk:" + name)
    if title is None:
        return
    assert parse_delivery_list(f"* {{{{#target:{title}}}}}\n", "wikitext") == [Target(title)]
    assert parse_delivery_list(json.dumps({"targets": [{"title": title}]}), "json") == [Target(title)]


# -- {{bots}} / {{nobots}} -------------------------------------------------------------------------

@pytest.mark.parametrize("text, allowed", [
    ("", True),
    ("Hello {{bots}}", True),
    ("{{nobots}}", False),
    ("{{Nobots}}", False),
    ("{{ nobots }}", False),
    ("{{Template:Nobots}}", False),
    ("{{nobots|allow=Admin}}", True),
    ("{{bots|deny=all}}", False),
    ("{{bots|deny=none}}", True),
    ("{{bots|deny=SomeBot, admin }}", False),
    ("{{bots|deny=SomeBot,OtherBot}}", True),
    ("{{bots|deny=User:Admin}}", False),
    ("{{bots|allow=none}}", False),
    ("{{bots|allow=all}}", True),
    ("{{bots|allow=SomeBot,OtherBot}}", False),
    ("{{bots|allow=SomeBot,ADMIN}}", True),
    ("{{bots|optout=all}}", False),
    ("{{bots|optout=nosource}}", True),
    ("{{bots|allow=all}} {{bots|deny=Admin}}", False),  # any one keeping the bot out does
    ("<!-- {{nobots}} -->", True),
    ("<nowiki>{{nobots}}</nowiki>", True),
    ("{{nobotsplease}}", True),
    ("{{Box|{{nobots}}}}", False),
])
def test_bots_convention(text, allowed):
    assert bots_allow(text, "Admin") is allowed


def test_bot_names_compare_without_case_and_underscores():
    assert bots_allow("{{bots|deny=Space_Bridge}}", "space bridge") is False
    assert bots_allow("{{bots|optout=space-bridge}}", "Admin", message_type="Space-Bridge") is False

"""The fan-out (sync/notify/plan.py): who hears of a new post or a reply, once each, for the
reason they chose; nobody hears of their own post; filters on new posts."""

from __future__ import annotations

from dataclasses import replace

from sync.notify.answers import Concerned
from sync.notify.plan import Happening, plan
from sync.notify.preferences import defaults


def member(sub, *events, channel="talk", **filters):
    return replace(defaults(sub), events=frozenset(events), channel=channel,
                   **{k: frozenset(v) for k, v in filters.items()})


def wanting(*members):
    out: dict[str, list] = {}
    for m in members:
        for e in m.events:
            out.setdefault(e, []).append(m)
    return out


def test_new_posts_reach_those_whose_filters_match_and_not_the_author():
    h = Happening("forum:topic:1", "new_post", "Grants", "https://f/t/1", author_sub="a", category="events",
                  tags=frozenset({"grants"}), language="es")
    members = [member("a", "new_posts"), member("b", "new_posts"), member("c", "new_posts", categories={"news"}),
               member("d", "new_posts", tags={"grants", "x"}, languages={"es"}), member("e", "new_posts", channel="none"),
               member("f", "new_posts", languages={"ar"})]
    assert [(d.sub, d.reason) for d in plan(h, wanting(*members), {})] == [("b", "new_posts"), ("d", "new_posts")]


def test_a_member_concerned_several_ways_hears_once_for_the_first_reason_they_chose():
    c = Concerned(topic_owner="Ana", parent_author="bo", mentioned=("ana", "Cy"), first_reply=True)
    h = Happening("forum:post:9", "reply", "Re: Grants", "https://f/t/1/2", author_sub="eve", concerned=c, mirrored=True)
    subs = {"ana": "a", "bo": "b", "cy": "c"}
    members = [member("a", "replies_to_my_topics", "first_reply_to_my_blog_post"), member("b", "mentions"),
               member("c", "mentions", channel="email")]
    got = {d.sub: (d.reason, d.channel) for d in plan(h, wanting(*members), subs)}
    # a was mentioned but chose only topic replies; b answered but chose only mentions; c mentioned
    assert got == {"a": ("replies_to_my_topics", "talk"), "c": ("mentions", "email")}
    assert len({d.key for d in plan(h, wanting(*members), subs)}) == 2


def test_the_reply_author_and_people_who_are_not_members_hear_nothing():
    c = Concerned(topic_owner="Ana", parent_author="stranger", mentioned=("eve",))
    h = Happening("forum:post:10", "reply", "Re", "u", author_sub="e", concerned=c)
    members = [member("a", "replies_to_my_topics"), member("e", "mentions")]
    assert [d.sub for d in plan(h, wanting(*members), {"ana": "a", "eve": "e"})] == ["a"]

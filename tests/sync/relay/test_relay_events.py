import datetime as dt

import pytest

from sync.relay import events as ev
from sync.relay.events import Event


def test_flag_events_are_always_private():
    e = Event(id="x", type="flag.created", private=False)
    assert e.private is True


def test_unknown_type_refused():
    with pytest.raises(ValueError):
        Event(id="x", type="post.deleted")


def test_round_trip_through_a_job_payload():
    e = Event(id="wp:blog:1:published", type="post.published", tags=["a", "b"],
              occurred_at=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.timezone.utc))
    again = Event.from_dict(e.to_dict())
    assert again == e and again.tags == ("a", "b")


def test_discourse_topic_created():
    payload = {"topic": {"id": 42, "title": "Hola", "slug": "hola", "category_id": 5, "archetype": "regular",
                         "tags": ["wiki"], "created_by": {"username": "ana"}, "created_at": "2026-01-01T10:00:00Z"}}
    e = ev.from_discourse("topic_created", payload, base_url="https://forum.example/", categories={5: "news"},
                          language="es")
    assert (e.id, e.type, e.category, e.tags, e.author, e.language) == (
        "discourse:topic:42", "topic.created", "news", ("wiki",), "ana", "es")
    assert e.url == "https://forum.example/t/hola/42"
    assert not e.private


def test_discourse_private_message_and_first_post_not_relayed():
    assert ev.from_discourse("topic_created", {"topic": {"id": 1, "archetype": "private_message"}}) is None
    assert ev.from_discourse("post_created", {"post": {"id": 1, "post_number": 1, "topic_id": 1}}) is None


def test_discourse_reply_flag_suspension():
    reply = ev.from_discourse("post_created", {"post": {"id": 7, "post_number": 2, "topic_id": 3, "topic_slug": "s",
                                                        "topic_title": "T", "username": "bo",
                                                        "cooked": "<p>Nice <b>post</b></p>"}}, base_url="https://f")
    assert (reply.type, reply.excerpt, reply.url) == ("reply.created", "Nice post", "https://f/t/s/3/2")
    flag = ev.from_discourse("reviewable_created", {"reviewable": {"id": 9, "type": "ReviewableFlaggedPost",
                                                                   "topic_id": 3}}, base_url="https://f")
    assert flag.type == "flag.created" and flag.private and flag.url == "https://f/review/9"
    sus = ev.from_discourse("user_suspended", {"user": {"id": 4, "username": "troll", "suspended_till": "2030"}})
    assert sus.type == "user.suspended" and sus.private and sus.author == "troll"
    assert ev.from_discourse("user_logged_in", {"user": {"id": 4}}) is None


def test_wordpress_post():
    post = {"id": 5, "link": "https://blog.example/p/5", "title": {"rendered": "News &amp; views"},
            "excerpt": {"rendered": "<p>Short</p>"}, "date_gmt": "2026-01-01T00:00:00",
            "modified_gmt": "2026-01-02T00:00:00",
            "_embedded": {"author": [{"name": "Ana"}],
                          "wp:term": [[{"taxonomy": "category", "name": "Events"}], [{"taxonomy": "post_tag", "name": "wiki"}]]}}
    pub = ev.from_wordpress_post("blog", post, updated=False, language="es")
    assert (pub.id, pub.title, pub.author, pub.category, pub.tags, pub.language, pub.site) == (
        "wp:blog:5:published", "News & views", "Ana", "Events", ("wiki",), "es", "blog")
    upd = ev.from_wordpress_post("blog", post, updated=True)
    assert upd.type == "post.updated" and upd.id == "wp:blog:5:updated:2026-01-02T00:00:00"

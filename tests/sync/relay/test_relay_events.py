import datetime as dt

import pytest

from bridge.clients.discourse import Category
from sync.relay import events as ev
from sync.relay.events import Event
from sync.relay.privacy import CategoryIndex


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


def _cat(cid, name, restricted=False, parent=None):
    return Category(id=cid, name=name, slug=name.lower(), color=None, text_color=None, parent_category_id=parent,
                    read_restricted=restricted)


# Categories as GET /categories.json tells them: a public one, a staff-only one, a public
# subcategory of the staff-only one (Discourse forbids it; the relay does not rely on that).
CATS = CategoryIndex({5: _cat(5, "News"), 6: _cat(6, "Staff", restricted=True), 7: _cat(7, "Notes", parent=6)})


def test_discourse_topic_created():
    payload = {"topic": {"id": 42, "title": "Hola", "slug": "hola", "category_id": 5, "archetype": "regular",
                         "visible": True, "tags": ["wiki"], "created_by": {"username": "ana"},
                         "created_at": "2026-01-01T10:00:00Z"}}
    e = ev.from_discourse("topic_created", payload, base_url="https://forum.example/", categories=CATS,
                          language="es")
    assert (e.id, e.type, e.category, e.category_id, e.topic_id, e.tags, e.author, e.language) == (
        "discourse:topic:42", "topic.created", "News", 5, 42, ("wiki",), "ana", "es")
    assert e.url == "https://forum.example/t/hola/42"
    assert not e.private and e.private_reason is None
    assert Event.from_dict(e.to_dict()) == e


TOPIC = {"id": 9, "title": "T", "slug": "t", "category_id": 5, "archetype": "regular", "visible": True}
REPLY = {"id": 70, "post_number": 3, "topic_id": 9, "post_type": 1, "topic_archetype": "regular", "category_id": 5,
         "cooked": "<p>x</p>", "hidden": False}


@pytest.mark.parametrize("event_name, change, categories, reason", [
    ("topic_created", {"category_id": 6}, CATS, "read-restricted category Staff"),
    ("topic_created", {"category_id": 7}, CATS, "read-restricted category Staff"),  # through its parent
    ("topic_created", {"category_id": 99}, CATS, "unknown category 99"),
    ("topic_created", {"category_id": None}, CATS, "no category"),
    ("topic_created", {}, None, "the forum's categories could not be read"),
    ("topic_created", {"visible": False}, CATS, "unlisted topic"),
    ("topic_created", {"visible": None}, CATS, "unlisted topic"),  # not said: not public
    ("topic_created", {"archetype": None}, CATS, "topic archetype None"),
    ("post_created", {"post_type": 4}, CATS, "whisper"),
    ("post_created", {"post_type": None}, CATS, "post type None"),
    ("post_created", {"hidden": True}, CATS, "hidden post"),
    ("post_created", {"category_id": 6}, CATS, "read-restricted category Staff"),
    ("post_created", {"topic_archetype": ""}, CATS, "topic archetype ''"),
    ("post_created", {}, CategoryIndex({}), "unknown category 5"),
    ("post_created", {"topic_id": None}, CATS, "no topic id"),  # its topic's listing can't be checked
    ("post_created", {"topic_id": "9"}, CATS, "no topic id"),
])
def test_restricted_forum_content_is_private(event_name, change, categories, reason):
    base = TOPIC if event_name == "topic_created" else REPLY
    payload = {event_name.split("_")[0]: {**base, **change}}
    e = ev.from_discourse(event_name, payload, categories=categories)
    assert e.private and e.private_reason == reason
    public = ev.from_discourse(event_name, {event_name.split("_")[0]: base}, categories=CATS)
    assert not public.private and public.category == "News"


def test_private_messages_reach_no_one():
    assert ev.from_discourse("topic_created", {"topic": {**TOPIC, "archetype": "private_message",
                                                         "category_id": None}}, categories=CATS) is None
    assert ev.from_discourse("post_created", {"post": {**REPLY, "topic_archetype": "private_message"}},
                             categories=CATS) is None


def test_discourse_private_message_and_first_post_not_relayed():
    assert ev.from_discourse("topic_created", {"topic": {"id": 1, "archetype": "private_message"}}) is None
    assert ev.from_discourse("post_created", {"post": {"id": 1, "post_number": 1, "topic_id": 1}}) is None


def test_discourse_reply_flag_suspension():
    reply = ev.from_discourse("post_created", {"post": {"id": 7, "post_number": 2, "topic_id": 3, "topic_slug": "s",
                                                        "topic_title": "T", "username": "bo", "post_type": 1,
                                                        "topic_archetype": "regular", "category_id": 5,
                                                        "cooked": "<p>Nice <b>post</b></p>"}},
                              base_url="https://f", categories=CATS)
    assert (reply.type, reply.excerpt, reply.url, reply.private) == ("reply.created", "Nice post", "https://f/t/s/3/2", False)
    assert ev.from_discourse("post_created", {"post": {**REPLY, "post_type": 3}}) is None  # small action
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

"""What a member may hear of (sync/notify/happenings.py) and how it reads (sync/notify/render.py):
public and new only, the relay's ids, member text escaped wherever it lands."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bridge.clients.discourse import Category
from bridge.clients.wordpress.models import Author, Post
from sync.notify import happenings, render
from sync.notify.answers import Concerned
from sync.notify.plan import MENTIONS, NEW_POSTS, REPLIES_TO_POSTS, Happening
from sync.relay.emit import event_from_post
from sync.relay.privacy import CategoryIndex

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc)
LINKS = render.Links(settings="https://space.example/me/notifications?uselang=en",
                     unsubscribe="https://space.example/me/notifications/unsubscribe?t=abc.123")


def post(**kw) -> Post:
    values = dict(id=7, title="Grants open", content="<p>Body</p>", excerpt="<p>Apply now</p>", status="publish",
                  categories=("community-news",), category_names=("Community News",), tags=("grants",),
                  tag_names=("Grants",), author=Author(3, "Ana", external_id="1001"),
                  permalink="https://blog.example/grants", modified=NOW, published=NOW - dt.timedelta(hours=1))
    values.update(kw)
    return Post(**values)


def test_a_new_public_post_is_a_happening_with_the_relays_id_and_its_authors_account():
    h = happenings.from_blog_post("news", post(), language="es", now=NOW)
    assert h.id == event_from_post("news", post(), updated=False).id == "wp:news:7:published"
    assert (h.kind, h.author_sub, h.category, h.tags, h.language) == ("new_post", "1001", "community-news",
                                                                      frozenset({"grants"}), "es")
    assert h.excerpt == "Apply now"


@pytest.mark.parametrize("changes", [dict(status="draft"), dict(status="private"), dict(status="future"),
                                     dict(protected=True), dict(published=NOW - dt.timedelta(days=30)),
                                     dict(status="trash")])
def test_a_post_not_public_or_not_new_is_nobodys_news(changes):
    assert happenings.from_blog_post("news", post(**changes), language=None, now=NOW) is None


def _topic(**kw):
    return {"id": 5, "title": "Budget", "slug": "budget", "archetype": "regular", "visible": True,
            "category_id": 1, "created_at": (NOW - dt.timedelta(minutes=5)).isoformat(),
            "details": {"created_by": {"username": "Ana"}}, **kw}


def _reply(**kw):
    return {"id": 51, "post_number": 2, "post_type": 1, "username": "Bo", "reply_to_post_number": 1,
            "cooked": '<p>Yes <a class="mention" href="/u/cy">@Cy</a></p>', "created_at": NOW.isoformat(), **kw}


CATEGORIES = CategoryIndex({c["id"]: Category.from_json(c) for c in (
    {"id": 1, "name": "General", "slug": "general", "read_restricted": False},
    {"id": 2, "name": "Staff", "slug": "staff", "read_restricted": True})})


def test_a_reply_says_whom_it_concerns():
    first = {"id": 50, "post_number": 1, "post_type": 1, "username": "Ana"}
    h = happenings.from_forum_reply(_reply(), _topic(), [first], CATEGORIES, "https://forum.example",
                                    mirrored=False, now=NOW)
    assert h.id == "discourse:post:51" and h.url == "https://forum.example/t/budget/5/2"
    assert h.concerned == Concerned(topic_owner="Ana", parent_author="Ana", mentioned=("cy",), first_reply=True)


@pytest.mark.parametrize("topic,reply", [
    (dict(category_id=2), {}), (dict(visible=False), {}), (dict(archetype="private_message"), {}),
    ({}, dict(post_type=4)), ({}, dict(hidden=True)), ({}, dict(post_number=1)),
    ({}, dict(created_at=(NOW - dt.timedelta(days=9)).isoformat())),
])
def test_a_reply_in_a_private_place_hidden_or_old_tells_nobody(topic, reply):
    assert happenings.from_forum_reply(_reply(**reply), _topic(**topic), [], CATEGORIES, "https://f",
                                       mirrored=False, now=NOW) is None


def test_a_happening_survives_the_job_payload_and_a_bad_payload_is_named():
    h = Happening("discourse:post:1", "reply", "T", "https://f/t/x/1/2", author_name="Bo", tags=frozenset({"a"}),
                  concerned=Concerned("Ana", "Bo", ("Cy",), True), mirrored=True)
    assert happenings.from_dict(happenings.to_dict(h)) == h
    with pytest.raises(ValueError, match="unknown field"):
        happenings.from_dict({**happenings.to_dict(h), "evil": 1})
    with pytest.raises(ValueError, match="not an object"):
        happenings.from_dict(["x"])


HOSTILE = "[[Special:Random]] {{nobots}} ~~~~ <script>x</script> ''bold'' __NOTOC__ [https://evil.example x] &amp;"


def test_member_text_never_acts_as_wikitext_on_a_talk_page():
    h = Happening("wp:n:1:published", "new_post", HOSTILE, "https://blog.example/1", author_name=HOSTILE,
                  excerpt=HOSTILE)
    for talk in (render.talk(h, NEW_POSTS, "en", LINKS), render.talk_digest([(h, NEW_POSTS)], "en", LINKS)):
        text = talk.heading + "\n" + talk.text
        for danger in ("[[", "{{", "~~~~", "<script", "''", "__NOTOC__", "[https://evil"):
            assert danger not in text, danger
        # the only links are the bridge's own
        assert set(re.findall(r"\[(https?://\S+)", text)) <= {"https://blog.example/1", LINKS.settings,
                                                               LINKS.unsubscribe}
        assert LINKS.unsubscribe in text


def test_email_is_escaped_right_to_left_in_arabic_and_says_how_to_stop():
    h = Happening("discourse:post:1", "reply", "<b>Budget</b>", "https://f/t/x/1/2", author_name="Bo & Co")
    mail = render.email(h, MENTIONS, "ar", LINKS)
    assert '<html lang="ar" dir="rtl">' in mail.html and "&lt;b&gt;Budget&lt;/b&gt;" in mail.html
    assert "<b>Budget</b>" not in mail.html and "Bo &amp; Co" in mail.html
    assert LINKS.unsubscribe in mail.text and LINKS.unsubscribe in mail.html
    assert "<b>Budget</b>" in mail.subject  # a subject is plain text
    digest = render.email_digest([(h, MENTIONS), (h, REPLIES_TO_POSTS)], "en", LINKS)
    assert digest.subject == "Your Space digest: 2 items"
    assert render.email_digest([(h, MENTIONS)], "en", LINKS).subject == "Your Space digest: one item"

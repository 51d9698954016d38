"""What of a blog post or a forum topic the index may hold (sync/search/documents.py): only what an
anonymous visitor can read."""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.clients.discourse import Category
from bridge.clients.wordpress import Author, Post
from sync.relay.privacy import CategoryIndex
from sync.search.documents import blog_document, forum_documents

UTC = dt.timezone.utc


def post(**changes) -> Post:
    fields = dict(id=7, title="Grants", content="<p>Apply <b>now</b></p><blockquote>quoted</blockquote>",
                  excerpt="", status="publish", categories=("events",), category_names=("Events",),
                  tags=("grants",), tag_names=("Grants",), author=Author(1, "Ada L."),
                  permalink="https://blog.example/grants", modified=dt.datetime(2026, 3, 2, 10, tzinfo=UTC),
                  published=dt.datetime(2026, 3, 1, 9, tzinfo=UTC))
    return Post(**{**fields, **changes})


@pytest.mark.parametrize("status", ["draft", "pending", "future", "private", "trash"])
def test_a_post_that_is_not_published_is_not_indexed(status):
    assert blog_document("news", post(status=status)) is None


def test_a_password_protected_post_is_not_indexed():
    assert blog_document("news", post(protected=True)) is None


def test_a_published_post_is_indexed_with_its_text_and_publication_date():
    doc = blog_document("news", post(), language="es")
    assert doc.body == "Apply now quoted"  # a blog's quotations are its own words
    assert doc.created_at == dt.datetime(2026, 3, 1, 9) and doc.updated_at == dt.datetime(2026, 3, 2, 10)
    assert (doc.author, doc.language, doc.category, doc.category_ref, doc.tags) == ("Ada L.", "es", "Events", "events", ("Grants",))
    assert blog_document("news", post(language="ar"), language="es").language == "ar"  # the post's own wins


def cat(cid, name, restricted, parent=None):
    return Category.from_json({"id": cid, "name": name, "slug": name.lower(), "read_restricted": restricted,
                               "parent_category_id": parent})


CATS = CategoryIndex({1: cat(1, "General", False), 2: cat(2, "Staff", True), 3: cat(3, "Sub", False, parent=2)})
TOPIC = {"id": 5, "slug": "meetup", "title": "Meetup", "archetype": "regular", "visible": True, "category_id": 1,
         "views": 40, "reply_count": 2, "tags": ["events", {"name": "berlin"}], "created_at": "2026-01-01T00:00:00.000Z"}


def fpost(pid, number, **extra):
    return {"id": pid, "post_number": number, "post_type": 1, "cooked": f"<p>text {pid}</p>", "username": "ada",
            "created_at": "2026-01-02T00:00:00.000Z", **extra}


def test_only_regular_visible_posts_of_a_public_topic_are_indexed():
    posts = [fpost(1, 1), fpost(2, 2), fpost(3, 3, post_type=4), fpost(4, 4, hidden=True),
             fpost(5, 5, deleted_at="2026-01-03T00:00:00Z"), fpost(6, 6, post_type=3)]
    reason, docs = forum_documents(TOPIC, posts, CATS, "https://forum.example")
    assert reason is None and [d.remote_id for d in docs] == ["1", "2"]
    first, reply = docs
    assert first.url == "https://forum.example/t/meetup/5" and reply.url == "https://forum.example/t/meetup/5/2"
    assert first.title_searchable and not reply.title_searchable  # a title word finds the topic once
    assert (first.views, first.replies, first.thread, first.category, first.tags) == (40, 2, "5", "General", ("events", "berlin"))


@pytest.mark.parametrize("change, why", [
    ({"visible": False}, "unlisted"), ({"archetype": "private_message"}, "private message"),
    ({"category_id": 2}, "read-restricted"), ({"category_id": 3}, "read-restricted"),
    ({"category_id": 99}, "unknown category"), ({"deleted_at": "2026-01-05T00:00:00Z"}, "deleted"),
])
def test_a_private_topic_has_no_documents(change, why):
    reason, docs = forum_documents({**TOPIC, **change}, [fpost(1, 1)], CATS, "https://forum.example")
    assert why in reason and docs == []


def test_without_the_forum_s_categories_nothing_is_indexed():
    reason, docs = forum_documents(TOPIC, [fpost(1, 1)], None, "https://forum.example")
    assert reason and docs == []

"""Who a forum reply concerns (sync/notify/answers.py): its topic's owner, the author it answers,
the members it mentions; never its own author."""

from __future__ import annotations

from sync.notify.answers import MAX_MENTIONS, concerned, mentions

TOPIC = {"id": 9, "details": {"created_by": {"username": "Ana"}}}
POSTS = [{"post_number": 1, "username": "Ana"}, {"post_number": 2, "username": "bo"},
         {"post_number": 3, "username": "Cy"}]


def reply(number, username, cooked="<p>hi</p>", **extra):
    return {"post_number": number, "username": username, "cooked": cooked, **extra}


def test_a_reply_to_a_reply_concerns_the_owner_the_parent_and_the_mentioned():
    cooked = ('<p>Thanks <a class="mention" href="/u/dee">@dee</a> and <a class="mention" href="/u/Cy">@Cy</a>, '
              'ask <a class="mention-group" href="/groups/staff">@staff</a></p>')
    c = concerned(reply(4, "eve", cooked, reply_to_post_number=2), TOPIC, POSTS)
    assert (c.topic_owner, c.parent_author, c.mentioned, c.first_reply) == ("Ana", "bo", ("dee", "Cy"), False)


def test_nobody_is_told_of_their_own_post():
    cooked = '<p><a class="mention" href="/u/ana">@ana</a> to myself</p>'
    c = concerned(reply(4, "ANA", cooked, reply_to_post_number=1), TOPIC, POSTS)
    assert (c.topic_owner, c.parent_author, c.mentioned) == (None, None, ())


def test_the_first_reply_is_marked_and_the_first_post_concerns_no_owner():
    assert concerned(reply(2, "bo"), TOPIC, POSTS).first_reply
    assert concerned(reply(1, "Ana"), TOPIC, POSTS).topic_owner is None


def test_an_unloaded_parent_falls_back_to_reply_to_user_and_mentions_are_bounded():
    c = concerned(reply(40, "eve", reply_to_post_number=33, reply_to_user={"username": "far"}), TOPIC, POSTS)
    assert c.parent_author == "far"
    many = "".join(f'<a class="mention" href="/u/m{i}">@m{i}</a>' for i in range(200))
    assert len(mentions(many)) == MAX_MENTIONS
    assert mentions('<a class="mention" href="/u/d%C3%A9sir%C3%A9e">@désirée</a><a href="/u/x">@x</a>') == ("désirée",)
    assert mentions(None) == () and mentions('<a class="mention" href="https://evil/u/x">x</a>') == ()

"""The double cooks @mentions and serializes reply_to_user as Discourse does, for the bridge's
answer notifications (sync/notify/answers.py reads both).

Mentions: discourse-markdown-it's mentions rule (app/assets/javascripts/pretty-text/engines/
discourse-markdown/mentions.js, text-post-process.js) and PrettyText.add_mentions (lib/pretty_text.rb).
reply_to_user: app/serializers/post_serializer.rb, web_hook_post_serializer.rb."""

from __future__ import annotations

import json

from bs4 import BeautifulSoup

from discourse_double_helpers import WebhookReceiver, sign_payload

BODY = "A first post that is long enough for Discourse."
SECRET = "connect-secret-0123456789"


def _post(forum, headers=None, **data):
    r = forum.request("POST", "/posts.json", json=data, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _member(forum, username):
    """Api-Key headers of a member made through sync_sso."""
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    sso, sig = sign_payload({"external_id": f"ext-{username}", "username": username,
                             "email": f"{username.lower()}@example.org"}, SECRET)
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    assert r.status_code == 200, r.text
    return {"Api-Key": forum.create_api_key(username), "Api-Username": username}


def _mentions(cooked):
    soup = BeautifulSoup(cooked, "html.parser")
    return ([(a["class"], a["href"], a.get_text()) for a in soup.find_all("a")],
            [s.get_text() for s in soup.select("span.mention")])


def test_a_reply_mentioning_a_member_links_to_them(forum):
    headers = _member(forum, "Anna_B")
    topic = _post(forum, title="A topic where members are named", raw=BODY)
    reply = _post(forum, headers=headers, topic_id=topic["topic_id"],
                  raw="Thanks @system, and @Anna_B (that is me) says hi to @nobody_here.")
    # lib/pretty_text.rb add_mentions: href of the lower-cased name, the text as typed
    links = [(["mention"], "/u/system", "@system"), (["mention"], "/u/anna_b", "@Anna_B")]
    assert _mentions(reply["cooked"]) == (links, ["@nobody_here"])
    assert '<span class="mention">@nobody_here</span>' in reply["cooked"]
    shown = forum.request("GET", f"/posts/{reply['id']}.json").json()
    assert _mentions(shown["cooked"]) == (links, ["@nobody_here"])
    stream = forum.request("GET", f"/t/{topic['topic_id']}.json").json()["post_stream"]["posts"]
    assert _mentions(stream[1]["cooked"]) == (links, ["@nobody_here"])


def test_no_mentions_in_code_or_inside_words(forum):
    topic = _post(forum, title="A topic with code and addresses",
                  raw="Write to system@example.org or x@system, see `@system` and\n\n```\n@system in a block\n```\n\nbye")
    cooked = topic["cooked"]
    assert _mentions(cooked) == ([], [])
    soup = BeautifulSoup(cooked, "html.parser")
    assert soup.select_one("p code").get_text() == "@system"
    assert soup.select_one("pre code.lang-auto").get_text() == "@system in a block\n"
    assert "system@example.org or x@system" in soup.p.get_text()


def test_a_group_mention_links_to_the_group(forum):
    r = forum.request("POST", "/admin/groups.json", json={"group": {"name": "Editors"}})
    assert r.status_code == 200, r.text
    topic = _post(forum, title="A topic for the editors group", raw="Hello @editors and @staff, please look.")
    # a group nobody may mention (mentionable_level 0, Discourse's default) is mention-group without notify
    assert _mentions(topic["cooked"]) == ([(["mention-group"], "/groups/editors", "@editors"),
                                           (["mention-group"], "/groups/staff", "@staff")], [])


def test_an_edit_cooks_mentions_again(forum):
    _member(forum, "carol")
    topic = _post(forum, title="A topic whose post is edited", raw=BODY)
    r = forum.request("PUT", f"/posts/{topic['id']}.json", json={"post": {"raw": BODY + " Ping @Carol."}})
    assert r.status_code == 200, r.text
    assert _mentions(r.json()["post"]["cooked"])[0] == [(["mention"], "/u/carol", "@Carol")]


def test_a_reply_to_the_first_post_names_its_author(forum):
    headers = _member(forum, "dave")
    topic = _post(forum, title="A topic that gets answers", raw=BODY)
    reply = _post(forum, headers=headers, topic_id=topic["topic_id"], reply_to_post_number=1, raw=BODY + " Yes.")
    plain = _post(forum, headers=headers, topic_id=topic["topic_id"], raw=BODY + " Also.")
    quoting = _post(forum, headers=headers, topic_id=topic["topic_id"], reply_to_post_number=1,
                    raw=f'[quote="system, post:1, topic:{topic["topic_id"]}"]\n{BODY}\n[/quote]\n\nIndeed so.')
    shown = forum.request("GET", f"/posts/{reply['id']}.json").json()
    assert shown["reply_to_user"] == {"username": "system", "name": "system",
                                      "avatar_template": "/images/discourse-logo-sketch-small.png"}
    assert "reply_to_user" not in forum.request("GET", f"/posts/{plain['id']}.json").json()
    # suppress_reply_when_quoting (default on) and the reply quotes the post it answers
    assert "reply_to_user" not in forum.request("GET", f"/posts/{quoting['id']}.json").json()


def test_the_post_created_hook_carries_mentions_and_reply_to_user(forum):
    headers = _member(forum, "erin")
    topic = _post(forum, title="A topic whose answers are hooked", raw=BODY)
    with WebhookReceiver() as receiver:
        forum.add_webhook(receiver.url + "/hook", "hook-secret-1234567890", ["post_created"])
        reply = _post(forum, headers=headers, topic_id=topic["topic_id"], reply_to_post_number=1,
                      raw="Right, @system: " + BODY)
        got = receiver.wait_for(lambda r: len(r) >= 1)
    body = json.loads(got[0]["body"])["post"]
    assert body["id"] == reply["id"] and body["username"] == "erin"
    assert _mentions(body["cooked"]) == ([(["mention"], "/u/system", "@system")], [])
    # WebHookPostSerializer keeps PostSerializer's reply_to_user
    assert body["reply_to_user"]["username"] == "system"
    assert set(body["reply_to_user"]) == {"username", "name", "avatar_template"}

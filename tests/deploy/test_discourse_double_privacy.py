"""The Discourse double's restricted content, as Discourse has it: staff-only categories
(permissions -> read_restricted, hidden from other users), whispers, unlisted topics and
private messages, each announced by a web hook in the real payload shape."""

from __future__ import annotations

import json

from discourse_double_helpers import WebhookReceiver
from test_discourse_double import BODY, sso_user


def _post(forum, key=None, username=None, **body):
    headers = {"Api-Key": key, "Api-Username": username} if key else {}
    return forum.request("POST", "/posts.json", json=body, headers=headers)


def test_restricted_content_and_its_web_hooks(forum):
    bo = sso_user(forum, external_id="bo-1", username="bo_member")
    bo_key = forum.create_api_key("bo_member")
    with WebhookReceiver() as receiver:
        forum.add_webhook(receiver.url + "/hook", "hook-secret-1234567890",
                          ["topic_created", "post_created", "category_created", "category_updated"])
        staff = forum.request("POST", "/categories.json", json={"name": "Staff lounge", "permissions": {"staff": 1}})
        public = forum.request("POST", "/categories.json", json={"name": "Announcements"})
        staff_id, public_id = staff.json()["category"]["id"], public.json()["category"]["id"]
        assert staff.json()["category"]["read_restricted"] is True
        assert public.json()["category"]["read_restricted"] is False
        st = _post(forum, title="Plans the staff discuss alone", raw=BODY, category=staff_id).json()
        un = _post(forum, title="A topic nobody sees in lists", raw=BODY, category=public_id, unlist_topic=True).json()
        wh = _post(forum, topic_id=un["topic_id"], raw="A whisper only staff members can read here.", whisper=True)
        pm = _post(forum, title="A private message for Bo only", raw=BODY, archetype="private_message",
                   target_recipients="bo_member").json()
        # only staff may whisper or unlist
        assert _post(forum, bo_key, "bo_member", topic_id=un["topic_id"], raw=BODY + " Bo", whisper=True).status_code == 403
        got = receiver.wait_for(lambda r: len(r) >= 9)
    assert forum.violations() == []
    hooks = [(r["headers"]["X-Discourse-Event"], json.loads(r["body"])) for r in got]
    topics = {b["topic"]["id"]: b["topic"] for e, b in hooks if e == "topic_created"}
    posts = {b["post"]["id"]: b["post"] for e, b in hooks if e == "post_created"}
    assert topics[st["topic_id"]]["category_id"] == staff_id and topics[st["topic_id"]]["visible"] is True
    assert topics[un["topic_id"]]["visible"] is False and topics[un["topic_id"]]["archetype"] == "regular"
    assert topics[pm["topic_id"]]["archetype"] == "private_message" and topics[pm["topic_id"]]["category_id"] is None
    whisper = posts[wh.json()["id"]]
    assert (whisper["post_type"], whisper["topic_archetype"], whisper["category_id"]) == (4, "regular", public_id)
    assert posts[pm["id"]]["topic_archetype"] == "private_message"
    assert "visible" not in whisper  # WebHookPostSerializer does not say whether the topic is listed
    # what a member (not staff) may see: not the staff category, its topics, or others' PMs
    as_bo = {"Api-Key": bo_key, "Api-Username": bo["username"]}
    cats = forum.request("GET", "/categories.json", headers=as_bo).json()["category_list"]["categories"]
    assert staff_id not in [c["id"] for c in cats] and public_id in [c["id"] for c in cats]
    assert forum.request("GET", f"/t/{st['topic_id']}.json", headers=as_bo).status_code == 404
    assert forum.request("GET", f"/t/{pm['topic_id']}.json", headers=as_bo).status_code == 200  # a participant
    # staff sees everything; a category opened to everyone is no longer read-restricted
    admin_cats = {c["id"]: c for c in forum.request("GET", "/categories.json").json()["category_list"]["categories"]}
    assert admin_cats[staff_id]["read_restricted"] is True
    r = forum.request("PUT", f"/categories/{staff_id}.json", json={"name": "Staff lounge", "permissions": {"everyone": 1}})
    assert r.status_code == 200 and r.json()["category"]["read_restricted"] is False
    forum.request("PUT", f"/categories/{public_id}.json", json={"name": "Announcements", "permissions": {"staff": 1}})
    assert forum.request("GET", f"/t/{un['topic_id']}.json", headers=as_bo).status_code == 404
    assert forum.violations() == []


def test_client_category_tree_knows_parents_and_restrictions(forum):
    from bridge.clients.discourse import DiscourseClient, Pacer

    staff = forum.request("POST", "/categories.json", json={"name": "Board", "permissions": {"staff": 1}}).json()
    sub = forum.request("POST", "/categories.json", json={"name": "Minutes", "parent_category_id": staff["category"]["id"],
                                                          "permissions": {"staff": 1}}).json()
    with DiscourseClient(forum.url, forum.api_key, pacer=Pacer(100000)) as client:
        tree = client.category_tree()
    board, minutes = tree[staff["category"]["id"]], tree[sub["category"]["id"]]
    assert (board.name, board.read_restricted, board.parent_category_id) == ("Board", True, None)
    assert (minutes.name, minutes.read_restricted, minutes.parent_category_id) == ("Minutes", True, board.id)
    assert tree[1].name == "Uncategorized" and tree[1].read_restricted is False
    assert forum.violations() == []

"""The Discourse double, over real HTTP: it refuses what Discourse's API description refuses,
authenticates and rate-limits like Discourse, answers in the documented shapes, sends signed
web hooks, and is a DiscourseConnect consumer."""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import json
import time

import pytest
import requests
from jsonschema import Draft202012Validator

from discourse_double_helpers import ConnectProvider, WebhookReceiver, load_spec, sign_payload
from doubles.discourse import DiscourseDouble

BODY = "A first post that is long enough for Discourse."


def new_topic(forum, title="A topic about the local stand-in", **extra):
    data = {"title": title, "raw": BODY, **extra}
    r = forum.request("POST", "/posts.json", data=data)
    assert r.status_code == 200, r.text
    return r.json()


# -- deliberate mistakes -------------------------------------------------------------------------------
def test_missing_required_field_is_refused(forum):
    r = forum.request("POST", "/posts.json", data={"title": "A topic without any body at all"})
    assert r.status_code == 400
    body = r.json()
    assert body["error_type"] == "invalid_parameters"
    assert body["errors"][0] == "param is missing or the value is empty: raw"
    [v] = forum.violations()
    assert v["kind"] == "invalid_request" and v["operation"] == "createTopicPostPM"
    assert v["problems"][0]["field"] == "raw" and v["problems"][0]["kind"] == "required"
    assert "VIOLATION POST /posts.json" in forum.stderr()


def test_wrong_type_is_refused(forum):
    r = forum.request("POST", "/posts.json", data={"raw": BODY, "topic_id": "not-a-number"})
    assert r.status_code == 400
    assert r.json()["errors"][0] == "You supplied invalid parameters to the request: topic_id"
    r = forum.request("POST", "/posts.json", json={"title": "A title that is long enough", "raw": BODY, "category": "x"})
    assert r.status_code == 400, "a string that is no number is not an integer"
    assert r.json()["errors"][0] == "You supplied invalid parameters to the request: category"
    assert [v["operation"] for v in forum.violations()] == ["createTopicPostPM", "createTopicPostPM"]


def test_form_values_are_coerced_like_rails_params(forum):
    topic = new_topic(forum, category="1")
    r = forum.request("POST", "/posts.json", data={"raw": BODY, "topic_id": str(topic["topic_id"])})
    assert r.status_code == 200, r.text
    assert r.json()["post_number"] == 2
    assert forum.violations() == []


def test_unknown_endpoint_and_method_are_refused(forum):
    r = forum.request("GET", "/no/such/endpoint.json")
    assert r.status_code == 404
    assert r.json() == {"errors": ["The requested URL or resource could not be found."], "error_type": "not_found"}
    r = forum.request("DELETE", "/latest.json")
    assert r.status_code == 404
    kinds = [v["kind"] for v in forum.violations()]
    assert kinds == ["unknown_endpoint", "unknown_method"]


def test_parameter_the_controller_does_not_take_is_dropped(forum):
    # Rails strong parameters (app/controllers/posts_controller.rb#create_params): dropped, not refused;
    # more in test_discourse_double_params.py
    r = forum.request("POST", "/posts.json", data={"title": "A topic with a stray field", "raw": BODY,
                                                  "colour": "blue"})
    assert r.status_code == 200
    [v] = forum.violations()
    assert (v["kind"], v["param"]) == ("dropped_parameter", "colour")


def test_title_too_short(forum):
    r = forum.request("POST", "/posts.json", data={"title": "Ten chars!", "raw": BODY})
    assert r.status_code == 422
    assert r.json() == {"action": "create_post", "errors": ["Title is too short (minimum is 15 characters)"]}


def test_title_too_long_and_body_too_short(forum):
    # PostCreator#valid? (lib/post_creator.rb): the topic's errors first, the post's only once it has none
    r = forum.request("POST", "/posts.json", data={"title": "A long title, " * 19, "raw": "too short"})
    assert r.status_code == 422
    assert r.json()["errors"] == ["Title is too long (maximum is 255 characters)"]
    r = forum.request("POST", "/posts.json", data={"title": "A title that is long enough", "raw": "too short"})
    assert r.json()["errors"] == ["Body is too short (minimum is 20 characters)"]


def test_title_and_body_quality(forum):
    r = forum.request("POST", "/posts.json", data={"title": "aaaaaaaaaaaaaaaaaaaaaa", "raw": BODY})
    assert r.json()["errors"] == ["Title seems unclear, most of the words contain the same letters over and over?"]
    r = forum.request("POST", "/posts.json", data={"title": "SHOUTING IS NOT ALLOWED HERE", "raw": BODY})
    assert r.json()["errors"] == ["Title seems unclear, did you mean to enter it in ALL CAPS?"]
    r = forum.request("POST", "/posts.json", data={"title": "A title that is fine here", "raw": "ab " * 10})
    assert r.json()["errors"] == ["Body seems unclear, most of the words contain the same letters over and over?"]


def test_same_reply_twice_by_a_user(forum):
    sso_user(forum, external_id="n-1", username="normal_user")
    key = forum.create_api_key("normal_user")
    topic = new_topic(forum)
    as_user = {"Api-Key": key, "Api-Username": "normal_user"}
    data = {"raw": "The same reply, sent twice by mistake.", "topic_id": topic["topic_id"]}
    assert forum.request("POST", "/posts.json", data=data, headers=as_user).status_code == 200
    # (the very same API request would be answered from PostsController#create's 120 s memo)
    r = forum.request("POST", "/posts.json", data=dict(data, raw=data["raw"] + "  "), headers=as_user)
    assert r.status_code == 422 and r.json()["errors"] == ["Body is too similar to what you recently posted"]
    # staff are exempt
    assert forum.request("POST", "/posts.json", data=data).status_code == 200
    # a user may not edit someone else's post, nor change a topic's status
    r = forum.request("PUT", f"/posts/{topic['id']}.json", data={"post[raw]": BODY + " not mine"}, headers=as_user)
    assert r.status_code == 403
    r = forum.request("PUT", f"/t/{topic['topic_id']}/status.json", data={"status": "closed", "enabled": "true"},
                      headers=as_user)
    assert r.status_code == 403


def test_second_topic_with_same_external_id(forum):
    new_topic(forum, external_id="wp-42")
    r = forum.request("POST", "/posts.json", data={"title": "Another title entirely here", "raw": BODY,
                                                  "external_id": "wp-42"})
    assert r.status_code == 422
    assert r.json()["errors"] == ["External has already been taken"]


def test_embed_url_is_unique(forum):
    new_topic(forum, embed_url="https://space.example/2024/01/post")
    r = forum.request("POST", "/posts.json", data={"title": "A different title for it", "raw": BODY,
                                                  "embed_url": "https://space.example/2024/01/post"})
    assert r.status_code == 422
    assert r.json()["errors"] == ["Embed url has already been taken"]


def test_unknown_category(forum):
    r = forum.request("POST", "/posts.json", data={"title": "A topic in no category", "raw": BODY, "category": "999"})
    assert r.status_code == 400
    assert r.json() == {"errors": ["You supplied invalid parameters to the request: category"],
                        "error_type": "invalid_parameters"}


def test_reply_to_missing_topic(forum):
    r = forum.request("POST", "/posts.json", data={"raw": BODY, "topic_id": "12345"})
    assert r.status_code == 422
    assert "Perhaps this topic was closed or deleted" in r.json()["errors"][0]


# -- authentication and rate limit -------------------------------------------------------------------
def test_wrong_key(forum):
    r = forum.request("GET", "/latest.json", headers={"Api-Key": "wrong"})
    assert r.status_code == 403
    assert r.json() == {"errors": ["You are not permitted to view the requested resource. The API username or key is invalid."],
                        "error_type": "invalid_access"}
    r = forum.request("GET", "/latest.json", headers={"Api-Username": "nobody"})
    assert r.status_code == 403 and r.json()["error_type"] == "invalid_access"


def test_no_key_where_login_is_needed(forum):
    r = forum.request("POST", "/posts.json", auth=False, data={"title": "An anonymous topic title", "raw": BODY})
    assert r.status_code == 403
    assert r.json() == {"errors": ["You need to be logged in to do that."], "error_type": "not_logged_in"}
    assert forum.request("GET", "/latest.json", auth=False).status_code == 200


def test_user_key_acts_as_its_user_only(forum):
    forum.request("POST", "/admin/groups.json", json={"group": {"name": "editors"}})
    key = forum.create_api_key("system")
    r = forum.request("GET", "/latest.json", headers={"Api-Key": key, "Api-Username": "someone_else"})
    assert r.status_code == 403


def test_rate_limit(forum):
    forum.set_rate_limit(3, 2)
    for _ in range(3):
        assert forum.request("GET", "/latest.json").status_code == 200
    r = forum.request("GET", "/latest.json")
    assert r.status_code == 429
    body = r.json()
    assert body["error_type"] == "rate_limit"
    wait = body["extras"]["wait_seconds"]
    assert 1 <= wait <= 2
    assert body["extras"]["time_left"] in ("1 second", "2 seconds")
    assert body["errors"] == [f"You\u2019ve performed this action too many times. Please wait {body['extras']['time_left']} before trying again."]
    assert r.headers["Retry-After"] == str(wait)
    assert r.headers["Discourse-Rate-Limit-Error-Code"] == "admin_api_key_rate_limit"
    time.sleep(wait + 0.1)
    assert forum.request("GET", "/latest.json").status_code == 200


def test_pydiscourse_waits_out_the_rate_limit(forum):
    forum.set_rate_limit(2, 1)
    client = forum.client()
    started = time.monotonic()
    for _ in range(3):
        client.latest_topics()
    assert time.monotonic() - started >= 1.0  # the third call was told to wait and retried


# -- documented response shapes ------------------------------------------------------------------------
def test_sample_of_responses_matches_the_response_schemas(forum):
    spec = load_spec()

    def check(method, template, response, status=200):
        assert response.status_code == status, response.text
        schema = spec["paths"][template][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        errs = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(response.json())]
        assert errs == [], f"{method.upper()} {template}: {errs[:5]}"

    r = forum.request("POST", "/categories.json", data={"name": "Space news", "color": "49d9e9", "text_color": "f0fcfd"})
    check("post", "/categories.json", r)
    cat = r.json()["category"]["id"]
    r = forum.request("POST", "/posts.json", data={"title": "Schema checked topic", "raw": BODY, "category": cat})
    check("post", "/posts.json", r)
    post = r.json()
    tid = post["topic_id"]
    reply = forum.request("POST", "/posts.json", data={"raw": BODY + " (reply)", "topic_id": tid})
    check("post", "/posts.json", reply)
    check("get", "/t/{id}.json", forum.request("GET", f"/t/{tid}.json"))
    check("get", "/posts/{id}.json", forum.request("GET", f"/posts/{post['id']}.json"))
    check("put", "/posts/{id}.json", forum.request("PUT", f"/posts/{post['id']}.json",
                                                    data={"post[raw]": BODY + " edited", "post[edit_reason]": "typo"}))
    check("get", "/latest.json", forum.request("GET", "/latest.json"))
    check("get", "/posts.json", forum.request("GET", "/posts.json"))
    check("get", "/categories.json", forum.request("GET", "/categories.json"))
    check("get", "/c/{id}/show.json", forum.request("GET", f"/c/{cat}/show.json"))
    check("put", "/t/-/{id}.json", forum.request("PUT", f"/t/-/{tid}.json", data={"title": "Schema checked topic, renamed"}))
    check("put", "/t/{id}/status.json", forum.request("PUT", f"/t/{tid}/status.json",
                                                       data={"status": "visible", "enabled": "false"}))
    check("post", "/post_actions.json", forum.request("POST", "/post_actions.json",
                                                      data={"id": reply.json()["id"], "post_action_type_id": "8"}))
    check("post", "/admin/groups.json", forum.request("POST", "/admin/groups.json", json={"group": {"name": "staffers"}}))
    check("get", "/tags.json", forum.request("GET", "/tags.json"))
    user = sso_user(forum, external_id="ext-7", username="ext_seven")
    check("get", "/u/by-external/{external_id}.json", forum.request("GET", "/u/by-external/ext-7.json"))
    check("get", "/u/{username}.json", forum.request("GET", "/u/ext_seven.json"))
    check("get", "/admin/users/{id}.json", forum.request("GET", f"/admin/users/{user['id']}.json"))
    check("post", "/admin/users/{id}/log_out.json", forum.request("POST", f"/admin/users/{user['id']}/log_out.json"))
    check("put", "/admin/users/{id}/suspend.json", forum.request("PUT", f"/admin/users/{user['id']}/suspend.json",
                                                                 data={"suspend_until": "2099-01-01", "reason": "test"}))
    assert [n for n in forum.notes() if n["kind"] == "response_mismatch"] == []


def sso_user(forum, **fields):
    """A user created through POST /admin/users/sync_sso (a DiscourseConnect payload)."""
    secret = "connect-secret-0123456789"
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", secret)
    payload = {"email": f"{fields.get('username', 'u')}@example.org", **fields}
    sso, sig = sign_payload(payload, secret)
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    assert r.status_code == 200, r.text
    return r.json()


# -- topics, posts, categories, users ------------------------------------------------------------------
def test_topic_by_external_id_redirects(forum):
    topic = new_topic(forum, title="Mirrored from WordPress", external_id="wp-post-7")
    r = forum.request("GET", "/t/external_id/wp-post-7.json")
    assert r.status_code == 301
    assert r.headers["Location"] == f"{forum.url}/t/mirrored-from-wordpress/{topic['topic_id']}.json"
    followed = forum.request("GET", "/t/external_id/wp-post-7.json", allow_redirects=True)
    assert followed.status_code == 200 and followed.json()["id"] == topic["topic_id"]
    assert forum.request("GET", "/t/external_id/nothing.json").status_code == 404


def test_edit_first_post_topic_and_unlist(forum):
    cat = forum.request("POST", "/categories.json", data={"name": "Events"}).json()["category"]["id"]
    topic = new_topic(forum, title="An event in the space")
    tid, pid = topic["topic_id"], topic["id"]
    r = forum.request("PUT", f"/posts/{pid}.json", data={"post[raw]": "The new text of the first post."})
    assert r.status_code == 200 and r.json()["post"]["raw"] == "The new text of the first post."
    assert r.json()["post"]["version"] == 2
    r = forum.request("PUT", f"/t/-/{tid}.json", data={"title": "An event in the space, renamed", "category_id": str(cat),
                                                       "tags[]": ["Wiki Loves", "events"]})
    assert r.status_code == 200, r.text
    t = forum.request("GET", f"/t/{tid}.json").json()
    assert (t["title"], t["category_id"]) == ("An event in the space, renamed", cat)
    assert [x["name"] for x in t["tags"]] == ["wiki-loves", "events"]
    r = forum.request("PUT", f"/t/-/{tid}.json", data={"title": "Short"})
    assert r.status_code == 422 and r.json()["errors"] == [
        "Title is too short (minimum is 15 characters)",
        "Title seems unclear, most of the words contain the same letters over and over?"]
    r = forum.request("PUT", f"/t/-/{tid}.json", data={"category_id": "999"})
    assert r.status_code == 422 and r.json()["errors"] == ["Category not found!"]
    # the documented nested form is not what TopicsController#update reads: nothing changes
    r = forum.request("PUT", f"/t/-/{tid}.json", json={"topic": {"title": "A title sent the nested way"}})
    assert r.status_code == 200 and r.json()["basic_topic"]["title"] == "An event in the space, renamed"
    r = forum.request("PUT", f"/t/{tid}/status.json", data={"status": "visible", "enabled": "false"})
    assert r.json() == {"success": "OK", "topic_status_update": None}
    anon = forum.request("GET", "/latest.json", auth=False).json()["topic_list"]["topics"]
    assert tid not in [x["id"] for x in anon]
    assert forum.request("GET", f"/t/{tid}.json").json()["visible"] is False
    r = forum.request("PUT", f"/t/{tid}/status.json", data={"status": "hidden", "enabled": "false"})
    assert r.status_code == 400  # not one of the documented statuses


def test_delete_posts_and_topics(forum):
    topic = new_topic(forum)
    reply = forum.request("POST", "/posts.json", data={"raw": BODY, "topic_id": topic["topic_id"]}).json()
    r = forum.request("DELETE", f"/posts/{reply['id']}.json")
    assert r.status_code == 200 and r.text == ""
    assert forum.request("GET", f"/posts/{reply['id']}.json", auth=False).status_code == 404
    assert forum.request("GET", f"/t/{topic['topic_id']}.json").json()["posts_count"] == 1
    r = forum.request("DELETE", f"/t/{topic['topic_id']}.json")
    assert r.status_code == 200
    assert forum.request("GET", f"/t/{topic['topic_id']}.json", auth=False).status_code == 404


def test_categories(forum):
    r = forum.request("POST", "/categories.json", data={"name": "Wikis", "color": "0088CC", "text_color": "FFFFFF",
                                                       "permissions[everyone]": "1"})
    assert r.status_code == 200, r.text
    assert r.json()["category"]["slug"] == "wikis"
    again = forum.request("POST", "/categories.json", data={"name": "wikis"})
    assert again.status_code == 422 and again.json()["errors"] == ["Category Name has already been taken"]
    names = [c["name"] for c in forum.request("GET", "/categories.json").json()["category_list"]["categories"]]
    assert names == ["Uncategorized", "Wikis"]
    bad = forum.request("POST", "/categories.json", data={"color": "0088CC"})
    assert bad.status_code == 400 and bad.json()["errors"][0] == "param is missing or the value is empty: name"


def test_latest_lists_replies_and_order(forum):
    a = new_topic(forum, title="First topic of the list")
    b = new_topic(forum, title="Second topic of the list")
    forum.request("POST", "/posts.json", data={"raw": BODY, "topic_id": a["topic_id"]})
    topics = forum.request("GET", "/latest.json").json()["topic_list"]["topics"]
    assert [t["id"] for t in topics] == [a["topic_id"], b["topic_id"]]
    assert topics[0]["posts_count"] == 2
    t = forum.request("GET", f"/t/{a['topic_id']}.json").json()
    assert [p["post_number"] for p in t["post_stream"]["posts"]] == [1, 2]
    assert len(t["post_stream"]["stream"]) == 2


def test_admin_log_out_and_suspend(forum):
    user = sso_user(forum, external_id="u-1", username="alice", name="Alice")
    assert forum.request("GET", "/u/by-external/u-1.json").json()["user"]["username"] == "alice"
    assert forum.request("POST", f"/admin/users/{user['id']}/log_out.json").json() == {"success": "OK"}
    r = forum.request("PUT", f"/admin/users/{user['id']}/suspend.json", data={"suspend_until": "2099-01-01", "reason": "spam"})
    assert r.status_code == 200 and r.json()["suspension"]["suspend_reason"] == "spam"
    r = forum.request("PUT", f"/admin/users/{user['id']}/suspend.json", data={"reason": "spam"})
    assert r.status_code == 400
    assert forum.request("POST", "/admin/users/99999/log_out.json").status_code == 404


def test_site_settings_endpoint(forum):
    r = forum.request("PUT", "/admin/site_settings/min_topic_title_length", data={"min_topic_title_length": "20"})
    assert r.status_code == 200 and r.text == ""
    r = forum.request("POST", "/posts.json", data={"title": "Nineteen chars long", "raw": BODY})
    assert r.json()["errors"] == ["Title is too short (minimum is 20 characters)"]
    r = forum.request("PUT", "/admin/site_settings/no_such_setting", data={"no_such_setting": "1"})
    assert r.status_code == 422
    r = forum.request("PUT", "/admin/site_settings/enable_discourse_connect", data={"enable_discourse_connect": "true"})
    assert r.status_code == 422  # needs discourse_connect_url first


def test_concurrent_requests(forum):
    def make(i):
        return forum.request("POST", "/posts.json", data={"title": f"Concurrent topic number {i}", "raw": BODY}).json()["topic_id"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(make, range(24)))
    assert len(set(ids)) == 24


def test_html_pages(forum):
    cat = forum.request("POST", "/categories.json", data={"name": "Mirrors"}).json()["category"]["id"]
    topic = new_topic(forum, title="A page for people to read", category=cat)
    forum.request("PUT", f"/t/-/{topic['topic_id']}.json", data={"tags[]": "wikimedia"})
    forum.request("POST", "/posts.json", data={"raw": "A reply that people can read too.", "topic_id": topic["topic_id"]})
    page = requests.get(f"{forum.url}/t/a-page-for-people-to-read/{topic['topic_id']}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    for text in ("Discourse double (local stand-in for Discourse)", "A page for people to read", "Mirrors",
                 "wikimedia", "A reply that people can read too.", "system", "Not logged in"):
        assert text in page.text
    home = requests.get(forum.url + "/", headers={"Accept": "text/html"})
    assert "A page for people to read" in home.text and "About the Mirrors category" not in home.text


# -- web hooks ---------------------------------------------------------------------------------------------
def test_web_hooks_are_signed_and_shaped(forum):
    secret = "hook-secret-1234567890"
    # flag_* event types only where the release has them (profiles.py; test_discourse_double_profiles.py)
    flags = ["flag_created"] if "flag_created" in forum.event_type_ids() else []
    with WebhookReceiver() as receiver:
        hook = forum.add_webhook(receiver.url + "/hook", secret,
                                 ["topic_created", "post_created", "post_edited", "post_destroyed", "user_created",
                                  *flags, "reviewable_created"])
        assert hook["active"] and hook["secret"] == secret
        topic = new_topic(forum, title="A topic that fires hooks")
        reply = forum.request("POST", "/posts.json", data={"raw": BODY, "topic_id": topic["topic_id"]}).json()
        forum.request("PUT", f"/posts/{reply['id']}.json", data={"post[raw]": BODY + " edited"})
        forum.request("POST", "/post_actions.json", data={"id": reply["id"], "post_action_type_id": "4"})
        forum.request("DELETE", f"/posts/{reply['id']}.json")
        sso_user(forum, external_id="hooked", username="hooked")
        got = receiver.wait_for(lambda r: len(r) >= 7 + len(flags))
    events = [r["headers"]["X-Discourse-Event"] for r in got]
    assert sorted(events[:3]) == ["post_created", "post_created", "topic_created"]
    assert set(events) == {"topic_created", "post_created", "post_edited", *flags, "reviewable_created",
                           "post_destroyed", "user_created"}
    ids = set()
    for r in got:
        h = r["headers"]
        expected = "sha256=" + hmac.new(secret.encode(), r["body"], hashlib.sha256).hexdigest()
        assert h["X-Discourse-Event-Signature"] == expected
        assert h["X-Discourse-Instance"] == forum.url
        assert h["Content-Type"] == "application/json"
        ids.add(h["X-Discourse-Event-Id"])
        body = json.loads(r["body"])
        assert list(body) == [h["X-Discourse-Event-Type"]]
    assert len(ids) == len(got)
    by_event = {r["headers"]["X-Discourse-Event"]: json.loads(r["body"]) for r in got}
    t = by_event["topic_created"]["topic"]
    assert t["title"] == "A topic that fires hooks" and t["created_by"]["username"] == "system"
    assert "post_stream" not in t
    p = by_event["post_edited"]["post"]
    assert p["raw"] == BODY + " edited" and p["topic_id"] == topic["topic_id"] and p["topic_posts_count"] == 2
    assert "can_edit" not in p and "actions_summary" not in p
    assert by_event["user_created"]["user"]["external_id"] == "hooked"
    if flags:
        assert by_event["flag_created"]["flag"]["flag_type"] == "inappropriate"
    assert by_event["reviewable_created"]["reviewable"]["target_id"] == reply["id"]
    deliveries = forum.web_hook_events()
    assert {d["status"] for d in deliveries} == {200}


def test_web_hook_retries_like_discourse(forum):
    forum.set_site_settings(retry_web_hook_events=True)
    with WebhookReceiver(statuses=[500, 502]) as receiver:
        forum.add_webhook(receiver.url, "", ["topic_created"])
        new_topic(forum)
        got = receiver.wait_for(lambda r: len(r) >= 3)
    assert [r["status"] for r in got] == [500, 502, 200]
    statuses = [(d["status"], d["retry_count"]) for d in forum.web_hook_events()]
    assert statuses == [(500, 0), (502, 1), (200, 2)]
    assert "X-Discourse-Event-Signature" not in got[0]["headers"]


def test_web_hook_not_retried_on_404_or_when_retries_are_off(forum):
    with WebhookReceiver(statuses=[500]) as receiver:
        forum.add_webhook(receiver.url, "", ["topic_created"])
        new_topic(forum)
        assert forum.wait_for_web_hooks()
        time.sleep(0.3)
        assert len(receiver.received) == 1  # retry_web_hook_events is off by default
    forum.reset()
    forum.set_site_settings(retry_web_hook_events=True)
    with WebhookReceiver(statuses=[404]) as receiver:
        forum.add_webhook(receiver.url, "", ["topic_created"])
        new_topic(forum)
        assert forum.wait_for_web_hooks()
        time.sleep(0.3)
        assert len(receiver.received) == 1


def test_web_hook_validation(forum):
    r = forum.request("POST", "/admin/api/web_hooks.json", data={"web_hook[payload_url]": "http://127.0.0.1:1/x",
                                                                 "web_hook[secret]": "short"})
    assert r.status_code == 422
    assert r.json()["errors"] == ["Secret is too short (minimum is 12 characters)", "Web hook event types can't be blank"]
    hook = forum.add_webhook("http://127.0.0.1:1/x", "", wildcard=True)
    r = forum.request("PUT", f"/admin/api/web_hooks/{hook['id']}.json", data={"web_hook[active]": "false"})
    assert r.json()["web_hook"]["active"] is False
    assert forum.request("DELETE", f"/admin/api/web_hooks/{hook['id']}.json").json() == {"success": "OK"}
    assert forum.request("GET", "/admin/api/web_hooks.json").json()["web_hooks"] == []


# -- DiscourseConnect ------------------------------------------------------------------------------------
SECRET = "connect-secret-abcdefghij"


def test_discourse_connect_round_trip(forum):
    forum.request("POST", "/admin/groups.json", json={"group": {"name": "wikimedians"}})
    with ConnectProvider(SECRET) as provider, WebhookReceiver() as receiver:
        forum.add_webhook(receiver.url, "", ["user_created", "user_logged_in"])
        forum.enable_discourse_connect(provider.url + "/sso", SECRET)
        provider.user = {"external_id": "wm-1001", "email": "ada@example.org", "username": "Ada Lovelace",
                         "name": "Ada L.", "avatar_url": "https://example.org/ada.png", "add_groups": "wikimedians",
                         "moderator": True, "suppress_welcome_message": True}
        browser = requests.Session()
        topic = new_topic(forum, title="Where the login returns")
        target = f"/t/where-the-login-returns/{topic['topic_id']}"
        r = browser.get(f"{forum.url}/session/sso", params={"return_path": target}, headers={"Accept": "text/html"})
        assert r.status_code == 200, r.text
        assert r.url == forum.url + target
        assert "Logged in as <strong>Ada_Lovelace</strong>" in r.text
        [asked] = provider.requests
        assert asked["return_sso_url"] == forum.url + "/session/sso_login" and len(asked["nonce"]) == 32
        me = browser.get(forum.url + "/session/current.json").json()["current_user"]
        assert (me["username"], me["name"], me["email"], me["moderator"]) == ("Ada_Lovelace", "Ada L.", "ada@example.org", True)
        assert [g["name"] for g in me["groups"]] == ["wikimedians"]
        user = forum.request("GET", "/u/by-external/wm-1001.json").json()["user"]
        assert user["id"] == me["id"]
        receiver.wait_for(lambda rr: len(rr) >= 2)
        assert sorted(receiver.events()) == ["user_created", "user_logged_in"]  # Discourse keeps no order

        # the same payload again: its nonce is used
        replay = browser.get(provider.last_redirect, headers={"Accept": "text/html"})
        assert replay.status_code == 419
        assert "Account login timed out, please try logging in again." in replay.text

        # a forged signature
        forged = provider.last_redirect.rsplit("&sig=", 1)[0] + "&sig=" + "0" * 64
        r = browser.get(forged, headers={"Accept": "text/html"})
        assert r.status_code == 422 and "Authentication failed (incorrect signature)" in r.text

        # a nonce from another browser is refused (discourse_connect_csrf_protection)
        start = requests.get(f"{forum.url}/session/sso", allow_redirects=False)
        provider_url = start.headers["Location"]
        back = requests.get(provider_url, allow_redirects=False).headers["Location"]
        assert browser.get(back).status_code == 419

        # admin log out ends the browser's session
        forum.request("POST", f"/admin/users/{me['id']}/log_out.json")
        assert browser.get(forum.url + "/session/current.json").status_code == 404
        page = browser.get(forum.url + "/", headers={"Accept": "text/html"})
        assert "Logged in as" not in page.text and "Log in" in page.text


def test_log_out_from_the_browser(forum):
    with ConnectProvider(SECRET) as provider:
        forum.enable_discourse_connect(provider.url + "/sso", SECRET)
        provider.user = {"external_id": "9", "email": "eve@example.org", "username": "eve"}
        browser = requests.Session()
        assert "Logged in as <strong>eve</strong>" in browser.get(f"{forum.url}/session/sso").text
        assert browser.delete(f"{forum.url}/session/eve").json()["success"] == "OK"
        assert browser.get(forum.url + "/session/current.json").status_code == 404


def test_discourse_connect_updates_existing_user_and_expiry(forum):
    forum.request("POST", "/admin/groups.json", json={"group": {"name": "team"}})
    with ConnectProvider(SECRET) as provider:
        forum.enable_discourse_connect(provider.url + "/sso", SECRET)
        provider.user = {"external_id": "7", "email": "bob@example.org", "username": "bob", "add_groups": "team"}
        browser = requests.Session()
        assert browser.get(f"{forum.url}/session/sso").status_code == 200
        forum.set_site_settings(auth_overrides_name=True)
        provider.user = {"external_id": "7", "email": "bob@example.org", "username": "bob", "name": "Robert",
                         "remove_groups": "team", "admin": True}
        browser = requests.Session()
        assert browser.get(f"{forum.url}/session/sso").status_code == 200
        me = browser.get(forum.url + "/session/current.json").json()["current_user"]
        assert (me["name"], me["admin"], me["groups"]) == ("Robert", True, [])
        # an expired nonce
        start = browser.get(f"{forum.url}/session/sso", allow_redirects=False)
        back = requests.get(start.headers["Location"], allow_redirects=False).headers["Location"]
        forum.expire_nonces()
        assert browser.get(back).status_code == 419


def test_discourse_connect_errors(forum):
    assert forum.request("GET", "/session/sso", auth=False).status_code == 404  # not enabled
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    r = requests.get(f"{forum.url}/session/sso_login", params={"sso": "not base64!", "sig": "00"})
    assert r.status_code == 422 and "payload is not valid Base64" in r.text
    with ConnectProvider(SECRET) as provider:
        forum.enable_discourse_connect(provider.url + "/sso", SECRET)
        provider.user = {"email": "noid@example.org", "username": "noid"}
        r = requests.Session().get(f"{forum.url}/session/sso")
        assert r.status_code == 500 and "The `external_id` is required but was blank" in r.text
        provider.user = {"external_id": "x1", "email": "new@example.org", "username": "new", "require_activation": True}
        r = requests.Session().get(f"{forum.url}/session/sso")
        assert r.url.endswith("/u/account-created")


# -- state --------------------------------------------------------------------------------------------------
def test_state_survives_a_restart(tmp_path):
    key = "k" * 64
    with DiscourseDouble(state_dir=tmp_path, api_key=key) as forum:
        tid = new_topic(forum, title="A topic that persists")["topic_id"]
    with DiscourseDouble(state_dir=tmp_path, api_key=key) as forum:
        assert forum.request("GET", f"/t/{tid}.json").json()["title"] == "A topic that persists"
        assert new_topic(forum, title="The next topic after restart")["topic_id"] == tid + 1

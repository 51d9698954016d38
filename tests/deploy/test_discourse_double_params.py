"""The Discourse double takes request parameters the way Discourse's Rails controllers do:
what an action permits is accepted (form-style strings cast as Rails and Discourse cast them),
what it does not is dropped silently, and every dropped parameter is recorded in the double's
violations log, where the bridge's own tests see it.

Each route's list follows the controller named in deploy/dev/discourse_double/params.py.
"""

from __future__ import annotations

import json

import pytest
import requests

from discourse_double_helpers import ConnectProvider, sign_payload

BODY = "A first post that is long enough for Discourse."
SECRET = "connect-secret-0123456789"


def _topic(forum, title="A topic for the parameter checks", **extra) -> dict:
    r = forum.request("POST", "/posts.json", data={"title": title, "raw": BODY, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def _member(forum, username="param_member") -> dict:
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    sso, sig = sign_payload({"external_id": f"x-{username}", "email": f"{username}@example.org",
                             "username": username}, SECRET)
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    assert r.status_code == 200, r.text
    return r.json()


def _dropped(forum) -> list[tuple[str, str]]:
    return [(v["route"], v["param"]) for v in forum.violations() if v["kind"] == "dropped_parameter"]


def _group(forum, name="param-group") -> int:
    r = forum.request("POST", "/admin/groups.json", data={"group[name]": name})
    assert r.status_code == 200, r.text
    return r.json()["basic_group"]["id"]


# Each case: a valid request (built on a fresh forum) plus one field its controller does not take.
# -> (method, path, body kwargs for requests, the route as recorded, the dropped name)
def _case_create_topic(forum):
    return "POST", "/posts.json", {"data": {"title": "A topic with one field too many", "raw": BODY,
                                            "no_such_field": "x"}}, "POST /posts.json", "no_such_field"


def _case_reply(forum):
    t = _topic(forum)
    return "POST", "/posts.json", {"data": {"topic_id": str(t["topic_id"]), "raw": BODY + " A reply.",
                                            "no_such_field": "x"}}, "POST /posts.json", "no_such_field"


def _case_update_post(forum):
    t = _topic(forum)
    return "PUT", f"/posts/{t['id']}.json", {"json": {"post": {"raw": BODY + " Edited.", "no_such_field": "x"}}}, \
        "PUT /posts/{id}.json", "post.no_such_field"


def _case_delete_post(forum):
    t = _topic(forum)
    reply = forum.request("POST", "/posts.json", data={"topic_id": t["topic_id"], "raw": BODY + " Reply."}).json()
    return "DELETE", f"/posts/{reply['id']}.json", {"data": {"no_such_field": "x"}}, "DELETE /posts/{id}.json", \
        "no_such_field"


def _case_update_topic(forum):
    t = _topic(forum)
    return "PUT", f"/t/-/{t['topic_id']}.json", {"data": {"title": "A topic renamed for the checks",
                                                          "no_such_field": "x"}}, \
        "PUT /t/-/{id}.json", "no_such_field"


def _case_topic_status(forum):
    t = _topic(forum)
    return "PUT", f"/t/{t['topic_id']}/status.json", {"data": {"status": "closed", "enabled": "true",
                                                                "no_such_field": "x"}}, \
        "PUT /t/{id}/status.json", "no_such_field"


def _case_remove_topic(forum):
    t = _topic(forum)
    return "DELETE", f"/t/{t['topic_id']}.json", {"data": {"no_such_field": "x"}}, "DELETE /t/{id}.json", \
        "no_such_field"


def _case_post_action(forum):
    t = _topic(forum)
    return "POST", "/post_actions.json", {"data": {"id": str(t["id"]), "post_action_type_id": "3",
                                                   "no_such_field": "x"}}, "POST /post_actions.json", "no_such_field"


def _case_create_category(forum):
    return "POST", "/categories.json", {"data": {"name": "Parameters", "color": "0088CC", "no_such_field": "x"}}, \
        "POST /categories.json", "no_such_field"


def _case_update_category(forum):
    cid = forum.request("POST", "/categories.json", data={"name": "Parameters"}).json()["category"]["id"]
    return "PUT", f"/categories/{cid}.json", {"data": {"name": "Parameters renamed", "no_such_field": "x"}}, \
        "PUT /categories/{id}.json", "no_such_field"


def _case_create_group(forum):
    return "POST", "/admin/groups.json", {"data": {"group[name]": "param-group", "group[no_such_field]": "x"}}, \
        "POST /admin/groups.json", "group.no_such_field"


def _case_add_members(forum):
    _member(forum)
    gid = _group(forum)
    return "PUT", f"/groups/{gid}/members.json", {"data": {"usernames": "param_member", "no_such_field": "x"}}, \
        "PUT /groups/{id}/members.json", "no_such_field"


def _case_suspend(forum):
    uid = _member(forum)["id"]
    return "PUT", f"/admin/users/{uid}/suspend.json", {"data": {"suspend_until": "2099-01-01", "reason": "spam",
                                                                "no_such_field": "x"}}, \
        "PUT /admin/users/{id}/suspend.json", "no_such_field"


def _case_log_out(forum):
    uid = _member(forum)["id"]
    return "POST", f"/admin/users/{uid}/log_out.json", {"data": {"no_such_field": "x"}}, \
        "POST /admin/users/{id}/log_out.json", "no_such_field"


def _case_sync_sso(forum):
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    sso, sig = sign_payload({"external_id": "x-9", "email": "nine@example.org", "username": "nine"}, SECRET)
    return "POST", "/admin/users/sync_sso", {"data": {"sso": sso, "sig": sig, "no_such_field": "x"}}, \
        "POST /admin/users/sync_sso", "no_such_field"


def _case_site_setting(forum):
    return "PUT", "/admin/site_settings/min_topic_title_length", \
        {"data": {"min_topic_title_length": "16", "no_such_field": "x"}}, "PUT /admin/site_settings/{id}", \
        "no_such_field"


def _case_web_hook(forum):
    ids = forum.event_type_ids()
    return "POST", "/admin/api/web_hooks.json", \
        {"data": [("web_hook[payload_url]", "http://127.0.0.1:9/hook"), ("web_hook[secret]", "a-secret-of-12+"),
                  ("web_hook[content_type]", "1"), ("web_hook[active]", "true"),
                  ("web_hook[web_hook_event_type_ids][]", str(ids["post_created"])),
                  ("web_hook[no_such_field]", "x")]}, "POST /admin/api/web_hooks", "web_hook.no_such_field"


def _case_api_key(forum):
    return "POST", "/admin/api/keys.json", {"data": {"key[description]": "a key", "no_such_field": "x"}}, \
        "POST /admin/api/keys", "no_such_field"


CASES = [_case_create_topic, _case_reply, _case_update_post, _case_delete_post, _case_update_topic,
         _case_topic_status, _case_remove_topic, _case_post_action, _case_create_category, _case_update_category,
         _case_create_group, _case_add_members, _case_suspend, _case_log_out, _case_sync_sso, _case_site_setting,
         _case_web_hook, _case_api_key]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[len("_case_"):] for c in CASES])
def test_a_field_the_controller_does_not_take_is_dropped_and_recorded(forum, case):
    method, path, kw, route, name = case(forum)
    forum.clear_violations()
    r = forum.request(method, path, **kw)
    assert r.status_code == 200, r.text  # as on a real forum: the request goes through
    [v] = forum.violations()
    assert (v["kind"], v["route"], v["param"]) == ("dropped_parameter", route, name)
    assert v["source"].startswith("app/controllers/")
    assert "VIOLATION" in forum.stderr() and name in forum.stderr()


def test_a_value_of_the_wrong_shape_is_dropped_like_rails(forum):
    # permit(:category) takes a scalar only: an array is dropped, the topic lands uncategorized
    r = forum.request("POST", "/posts.json", data={"title": "A topic with a list for a category", "raw": BODY,
                                                  "category[]": ["1", "2"]})
    assert r.status_code == 200, r.text
    assert _dropped(forum) == [("POST /posts.json", "category")]
    # the documented `topic` hash of PUT /t/-/{id} is not what TopicsController#update reads
    t = r.json()
    r = forum.request("PUT", f"/t/-/{t['topic_id']}.json", json={"topic": {"title": "A title the nested way"}})
    assert r.status_code == 200
    assert _dropped(forum)[-1] == ("PUT /t/-/{id}.json", "topic")


def test_form_style_values_are_cast_like_rails(forum):
    # JSON strings and form strings alike: Rails hands them to models that cast them
    cid = forum.request("POST", "/categories.json", data={"name": "Cast"}).json()["category"]["id"]
    r = forum.request("POST", "/posts.json", json={"title": "A topic whose category is a string", "raw": BODY,
                                                  "category": str(cid), "auto_track": "false"})
    assert r.status_code == 200, r.text
    topic = forum.request("GET", f"/t/{r.json()['topic_id']}.json").json()
    assert topic["category_id"] == cid
    r = forum.request("POST", "/posts.json", data={"title": "A topic with form-style flags", "raw": BODY,
                                                  "auto_track": "true", "skip_validations": "true",
                                                  "visible": "true"})
    assert r.status_code == 200, r.text
    reply = forum.request("POST", "/posts.json", json={"topic_id": str(r.json()["topic_id"]), "raw": BODY + " Re."})
    assert reply.status_code == 200, reply.text
    r = forum.request("DELETE", f"/posts/{reply.json()['id']}.json", json={"force_destroy": "false"})
    assert r.status_code == 200, r.text
    assert forum.violations() == []


def test_unlisting_the_way_wordpress_clients_ask(forum):
    # posts_controller.rb#create_params: unlist_topic=true sets visible=false; visible=false is taken as is
    a = _topic(forum, title="Unlisted through unlist_topic", unlist_topic="true")
    b = _topic(forum, title="Unlisted through visible false", visible="false")
    c = _topic(forum, title="Listed through visible true", visible="true")
    listed = [t["id"] for t in forum.request("GET", "/latest.json", auth=False).json()["topic_list"]["topics"]]
    assert a["topic_id"] not in listed and b["topic_id"] not in listed and c["topic_id"] in listed
    assert forum.violations() == []


def test_api_only_parameters_are_dropped_for_a_browser(forum):
    # posts_controller.rb#create_params permits embed_url, external_id, created_at, skip_validations
    # and import_mode only when is_api?: from a browser session they are dropped
    with ConnectProvider(SECRET) as provider:
        forum.enable_discourse_connect(provider.url + "/sso", SECRET)
        provider.user = {"external_id": "wm-77", "email": "b@example.org", "username": "browser_user"}
        browser = requests.Session()
        assert browser.get(f"{forum.url}/session/sso", headers={"Accept": "text/html"}).status_code == 200
    r = browser.post(f"{forum.url}/posts.json", headers={"Accept": "application/json", "X-CSRF-Token": "t"},
                     data={"title": "A topic written in the browser", "raw": BODY, "external_id": "b-1",
                           "embed_url": "http://blog.example/b-1"})
    assert r.status_code == 200, r.text
    assert sorted(p for _, p in _dropped(forum)) == ["embed_url", "external_id"]
    assert forum.request("GET", "/t/external_id/b-1.json").status_code == 404


def test_tags_on_create_tag_the_new_topic(forum):
    # PostsController#create takes tags (reject_too_many_tags!, PostRevisor.tracked_topic_fields);
    # TopicCreator#setup_tags applies them (lib/topic_creator.rb)
    r = forum.request("POST", "/posts.json", data={"title": "A topic with tags on creation", "raw": BODY,
                                                  "tags[]": ["one", "Two"]})
    assert r.status_code == 200, r.text
    topic = forum.request("GET", f"/t/{r.json()['topic_id']}.json").json()
    assert [t["name"] for t in topic["tags"]] == ["one", "two"]  # force_lowercase_tags
    assert forum.violations() == []


def test_tags_on_create_by_a_user_who_may_not_tag_refuse_the_topic(forum):
    """lib/topic_creator.rb#setup_tags: DiscourseTagging.tag_topic_by_names fails for a user who
    may not tag (Guardian#can_tag_topics?, trust level 0 here) and the topic is rolled back."""
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", "connect-secret-0123456789")
    forum.set_site_settings(default_trust_level=0)  # Discourse's default: a newcomer
    sso, sig = sign_payload({"external_id": "tl0-1", "username": "newcomer", "email": "newcomer@example.org"},
                            "connect-secret-0123456789")
    assert forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig}).status_code == 200
    as_newcomer = {"Api-Key": forum.create_api_key(all_users=True), "Api-Username": "newcomer"}
    data = {"title": "A newcomer's topic with tags", "raw": BODY, "tags[]": ["one"]}
    r = forum.request("POST", "/posts.json", data=data, headers=as_newcomer)
    assert r.status_code == 422 and r.json()["errors"] == ["There was an error tagging the topic."]
    titles = [t["title"] for t in forum.request("GET", "/latest.json").json()["topic_list"]["topics"]]
    assert "A newcomer's topic with tags" not in titles
    data.pop("tags[]")
    assert forum.request("POST", "/posts.json", data=data, headers=as_newcomer).status_code == 200


# -- wp-discourse 2.6.1's own requests (lib/discourse-publish.php, sync_to_discourse_work) -----------------
def _wp_discourse(forum, method, path, body):
    """As wp-discourse's discourse_request (lib/plugin-utilities.php) sends it: JSON body, key headers."""
    headers = {"Content-Type": "application/json"}
    return forum.request(method, path, data=json.dumps(body), headers=headers)


def _wp_create_body(category, *, unlisted=False, auto_track=True, featured_link=None, tags=None):
    body = {"embed_url": "http://wordpress.example/2026/12/a-post/", "featured_link": featured_link,
            "title": "A post published by wp-discourse", "raw": "<p>" + BODY + "</p>\n<small>Originally published at"
            " http://wordpress.example/2026/12/a-post/</small>", "category": category, "skip_validations": "true",
            "auto_track": "true" if auto_track else "false", "visible": "false" if unlisted else "true"}
    if tags:
        body["tags"] = tags
    return body


def test_wp_discourse_create_is_accepted_with_nothing_dropped(forum):
    cid = forum.request("POST", "/categories.json", data={"name": "Blog"}).json()["category"]["id"]
    r = _wp_discourse(forum, "POST", "/posts", _wp_create_body(str(cid)))
    assert r.status_code == 200, r.text
    post = r.json()
    # what wp-discourse reads back (validate_create_post_body): id, topic_id, topic_slug
    assert post["id"] and post["topic_id"] and post["topic_slug"] == "a-post-published-by-wp-discourse"
    topic = forum.request("GET", f"/t/{post['topic_id']}.json").json()
    assert topic["category_id"] == cid
    assert forum.violations() == []  # real Discourse drops none of these


def test_wp_discourse_unlisted_create_with_featured_link_and_tags(forum):
    cid = forum.request("POST", "/categories.json", data={"name": "Blog"}).json()["category"]["id"]
    body = _wp_create_body(str(cid), unlisted=True, auto_track=False,
                           featured_link="http://wordpress.example/2026/12/a-post/", tags=["space", "wiki"])
    r = _wp_discourse(forum, "POST", "/posts", body)
    assert r.status_code == 200, r.text
    listed = [t["id"] for t in forum.request("GET", "/latest.json", auth=False).json()["topic_list"]["topics"]]
    assert r.json()["topic_id"] not in listed
    assert forum.violations() == []


def test_wp_discourse_update_drops_only_what_discourse_drops(forum):
    cid = forum.request("POST", "/categories.json", data={"name": "Blog"}).json()["category"]["id"]
    post = _wp_discourse(forum, "POST", "/posts", _wp_create_body(str(cid))).json()
    body = {"title": "A post published by wp-discourse", "post": {"raw": "<p>" + BODY + " Edited.</p>"},
            "skip_validations": "true"}
    r = _wp_discourse(forum, "PUT", f"/posts/{post['id']}", body)
    assert r.status_code == 200, r.text
    updated = r.json()["post"]
    # what wp-discourse reads back: post.topic_slug, post.topic_id
    assert updated["topic_id"] == post["topic_id"] and updated["topic_slug"] == post["topic_slug"]
    assert "Edited." in updated["raw"]
    # PostsController#update reads title (first post) but not skip_validations
    assert _dropped(forum) == [("PUT /posts/{id}.json", "skip_validations")]
    assert len(forum.violations()) == 1


def test_wp_discourse_pin(forum):
    post = _wp_discourse(forum, "POST", "/posts", _wp_create_body("")).json()
    r = _wp_discourse(forum, "PUT", f"/t/{post['topic_id']}/status",
                      {"status": "pinned", "enabled": "true", "until": "2099-01-01"})
    assert r.status_code == 200, r.text
    assert forum.violations() == []

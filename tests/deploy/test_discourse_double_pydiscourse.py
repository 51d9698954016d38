"""pydiscourse 1.7's DiscourseClient against the Discourse double: the requests it really sends
(form-encoded bodies, Api-Key/Api-Username headers, paths without `.json`, `tags[]`) either pass
Discourse's API description, or are refused and listed here as findings for the bridge's client."""

from __future__ import annotations

import pytest
from pydiscourse.exceptions import DiscourseClientError, DiscourseError

BODY = "A first post that is long enough for Discourse."
SSO_SECRET = "sso-secret-0123456789"


@pytest.fixture
def client(forum):
    return forum.client()


def test_topics_posts_and_categories(forum, client):
    cat = client.create_category("Space news", "49d9e9")["category"]
    assert cat["name"] == "Space news"
    assert [c["name"] for c in client.categories()] == ["Uncategorized", "Space news"]
    assert client.category(cat["id"])["category"]["slug"] == "space-news"

    post = client.create_post(BODY, category_id=cat["id"], title="Mirrored from the Space blog", external_id="wp-99")
    tid = post["topic_id"]
    assert post["post_number"] == 1
    reply = client.create_post("A reply that is long enough for Discourse.", topic_id=tid)
    assert reply["post_number"] == 2

    topic = client.topic(post["topic_slug"], tid)
    assert (topic["title"], topic["category_id"]) == ("Mirrored from the Space blog", cat["id"])
    assert [p["id"] for p in topic["post_stream"]["posts"]] == [post["id"], reply["id"]]
    assert client.post(tid, 1)["id"] == tid  # GET /t/{topic_id}/{post_number}.json: the topic
    assert client.post_by_id(reply["id"])["raw"] == "A reply that is long enough for Discourse."

    edited = client.update_post(post["id"], "The edited text of the first post.", edit_reason="sync")
    assert edited["post"]["raw"] == "The edited text of the first post." and edited["post"]["edit_reason"] == "sync"
    renamed = client.update_topic(f"/t/-/{tid}.json", "Mirrored from the Space blog, renamed", category_id=1)
    assert renamed["basic_topic"]["title"] == "Mirrored from the Space blog, renamed"
    assert client.update_topic_status(tid, "visible", False) == {"success": "OK", "topic_status_update": None}

    latest = client.latest_topics()["topic_list"]["topics"]
    assert [t["id"] for t in latest] == [tid]  # staff still see the unlisted topic
    assert [p["id"] for p in client.latest_posts()["latest_posts"]][:2] == [reply["id"], post["id"]]
    assert client.search("edited text")["posts"][0]["id"] == post["id"]
    assert client.delete_topic(tid) is None
    assert forum.violations() == []


def test_topic_by_external_id(forum, client):
    post = client.create_post(BODY, title="Found by its external id", external_id="wp-100")
    # Discourse answers 301 to the topic's URL; pydiscourse does not follow redirects by default
    with pytest.raises(DiscourseError, match="Invalid Response"):
        client._get("/t/external_id/wp-100.json")
    topic = client._get("/t/external_id/wp-100.json", override_request_kwargs={"allow_redirects": True})
    assert topic["id"] == post["topic_id"]
    assert forum.violations() == []


def test_site_settings_and_users(forum, client):
    client.site_settings(discourse_connect_url="http://127.0.0.1:9/sso", discourse_connect_secret=SSO_SECRET)
    client.site_settings(enable_discourse_connect="true")
    settings = {s["setting"]: s["value"] for s in client.get_site_settings()["site_settings"]}
    assert settings["enable_discourse_connect"] == "true"

    user = client.sync_sso(sso_secret=SSO_SECRET, external_id="wm-5", email="grace@example.org",
                           username="grace", name="Grace H.", add_groups="")
    assert (user["username"], user["external_id"]) == ("grace", "wm-5")
    again = client.sync_sso(sso_secret=SSO_SECRET, external_id="wm-5", email="grace@example.org", username="grace")
    assert again["id"] == user["id"]
    assert client.user_by_external_id("wm-5")["id"] == user["id"]  # /users/by-external/{id}: a Rails alias of /u/
    assert client.user("grace")["name"] == "Grace H."
    assert client.user_all(user["id"])["username"] == "grace"
    assert [u["username"] for u in client.users()] == ["grace"]
    assert client.log_out(user["id"]) == {"success": "OK"}
    assert client.suspend(user["id"], 3, "testing")["suspension"]["suspend_reason"] == "testing"
    # finding: pydiscourse's sync_sso also sends the payload's fields as parameters, which
    # Admin::UsersController#sync_sso does not read (it reads sso and sig): Discourse drops them
    dropped = [(v["kind"], v["param"]) for v in forum.violations()]
    assert dropped == [("dropped_parameter", k) for k in ("external_id", "email", "username", "name", "add_groups",
                                                          "external_id", "email", "username")]


def test_rate_limited_client_retries(forum, client):
    forum.set_rate_limit(1, 1)
    assert client.latest_topics()["topic_list"]["topics"] == []
    assert client.latest_topics()["topic_list"]["topics"] == []  # after a 429 and its wait_seconds


# -- findings: pydiscourse methods whose requests Discourse's API description refuses ----------------------
def _refused(forum, call, kind):
    forum.clear_violations()
    with pytest.raises(DiscourseClientError):
        call()
    [v] = forum.violations()
    assert v["kind"] == kind, v
    return v


def test_findings_create_post_with_tags(forum, client):
    # POST /posts.json documents no `tags`, but PostsController#create takes them
    # (app/controllers/posts_controller.rb, PostRevisor.tracked_topic_fields) and TopicCreator
    # #setup_tags applies them (lib/topic_creator.rb); PUT /t/-/{id}.json tags afterwards
    tagged = client.create_post(BODY, title="A topic with tags on creation", tags=["a"])
    assert forum.violations() == []
    assert [t["name"] for t in client.topic(tagged["topic_slug"], tagged["topic_id"])["tags"]] == ["a"]
    post = client.create_post(BODY, title="A topic tagged afterwards")
    client.update_topic(f"/t/-/{post['topic_id']}.json", "A topic tagged afterwards", **{"tags[]": ["space", "wiki"]})
    assert [t["name"] for t in client.topic(post["topic_slug"], post["topic_id"])["tags"]] == ["space", "wiki"]


def test_findings_refused_methods(forum, client):
    cat = client.create_category("Refusals", "49d9e9")["category"]["id"]
    post = client.create_post(BODY, title="A topic for the refusals")
    # /c/{id}.json is not documented (only /c/{slug}/{id}.json)
    _refused(forum, lambda: client.category_topics(cat), "unknown_endpoint")
    assert client._get(f"/c/refusals/{cat}.json")["topic_list"]["topics"] == []
    # GET /t/{id}/posts.json documents post_ids[] as required
    _refused(forum, lambda: client.topic_posts(post["topic_id"]), "invalid_request")
    assert client.posts(post["topic_id"], post_ids=[post["id"]])["post_stream"]["posts"][0]["id"] == post["id"]
    # /posts/by_number/... is not documented
    _refused(forum, lambda: client.post_by_number(post["topic_id"], 1), "unknown_endpoint")
    # create_group sends fields Admin::GroupsController#group_params does not take (alias_level,
    # automatic, ...): Discourse drops them and creates the group
    forum.clear_violations()
    assert client.create_group("editors")["basic_group"]["name"] == "editors"
    assert sorted(v["param"] for v in forum.violations()) == [
        "group.alias_level", "group.automatic", "group.automatic_membership_retroactive", "group.flair_url",
        "group.visible"]
    # POST /admin/users/{id}/groups is not documented (PUT /groups/{id}/members.json is)
    _refused(forum, lambda: client.add_user_to_group(1, 1), "unknown_endpoint")
    group_id = client.group("editors")["group"]["id"]
    forum.set_site_settings(discourse_connect_url="http://127.0.0.1:9/sso", discourse_connect_secret=SSO_SECRET,
                            enable_discourse_connect=True)
    client.sync_sso(sso_secret=SSO_SECRET, external_id="m-1", email="m1@example.org", username="member_one")
    assert client.add_group_member(group_id, "member_one")["usernames"] == ["member_one"]
    assert [g["name"] for g in client.user("member_one")["groups"]] == ["editors"]
    with pytest.raises(DiscourseClientError, match="already a member"):
        client.add_group_member(group_id, "member_one")
    # create_user first GETs /session/hp.json, which is not documented
    _refused(forum, lambda: client.create_user("New", "newuser", "new@example.org", "a-long-password-1"),
             "unknown_endpoint")

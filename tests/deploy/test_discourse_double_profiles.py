"""The double per Discourse version (deploy/dev/discourse_double/profiles.py): each test runs
against `stable-2025` and `main-2026` (the `profile_forum` fixture) and names the Discourse file
whose behaviour it checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest
import requests

from discourse_double_helpers import ConnectProvider, WebhookReceiver

BODY = "A first post that is long enough for Discourse."
SECRET = "connect-secret-0123456789"


def new_topic(forum, title="A topic about the local stand-in", **extra):
    r = forum.request("POST", "/posts.json", data={"title": title, "raw": BODY, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def signed(fields: dict, secret: str = SECRET) -> tuple[str, str]:
    sso = base64.b64encode(urlencode(fields).encode()).decode()
    return sso, hmac.new(secret.encode(), sso.encode(), hashlib.sha256).hexdigest()


def fields_with_plus(**fields) -> dict:
    """Fields whose Base64 payload contains a "+" (most real ones do: "~", ">" or "?" in a value)."""
    for pad in range(64):
        f = dict(fields, name=fields.get("name", "Member") + "~" * pad)
        if "+" in signed(f)[0]:
            return f
    raise AssertionError("no payload with a +")


def switch(forum, name: str) -> bool:
    """A switch of the double's active profile (profiles.Profile), as /__double__/health reports it."""
    return forum._double("GET", "health")["profile"][name]


def test_profile_is_reported(profile_forum):
    info = profile_forum._double("GET", "health")
    assert info["profile"]["name"] == profile_forum.profile


# -- a. app/controllers/admin/users_controller.rb#sync_sso (PR #42024) --------------------------------------
def test_sync_sso_payload_with_a_plus(profile_forum):
    forum = profile_forum
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    sso, sig = signed(fields_with_plus(external_id="plus-1", email="plus@example.org", username="plus"))
    assert "+" in sso
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    if forum.profile == "stable-2025":
        # the action rebuilds "sso=...&sig=..." and parses it again: "+" becomes a space
        assert r.status_code == 422
        assert r.json() == {"failed": "FAILED", "message": "Login Error"}
        assert forum.request("GET", "/u/by-external/plus-1.json").status_code == 404
    else:
        assert r.status_code == 200, r.text
        assert r.json()["username"] == "plus"
    # a payload without "+" works on both
    for pad in range(64):
        sso, sig = signed({"external_id": "plain-1", "email": "plain@example.org", "username": "plain",
                           "name": "P" + "x" * pad})
        if "+" not in sso:
            break
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    assert r.status_code == 200, r.text
# -- b. app/models/topic.rb title uniqueness (PR #41871) ------------------------------------------------------
def test_duplicate_title_message(profile_forum):
    forum = profile_forum
    first = new_topic(forum, title="The same title twice over")
    r = forum.request("POST", "/posts.json", data={"title": "the same title twice over", "raw": BODY})
    assert r.status_code == 422
    if not switch(forum, "duplicate_title_names_topic"):
        assert r.json() == {"action": "create_post", "errors": ["Title has already been used"]}
    else:
        url = f"/t/the-same-title-twice-over/{first['topic_id']}"
        assert r.json() == {"action": "create_post",
                            "errors": [f"This title has already been used by [another topic]({url})."]}


def test_duplicate_title_settings(profile_forum):
    forum = profile_forum
    names = {s["setting"] for s in forum.request("GET", "/admin/site_settings.json").json()["site_settings"]}
    if not switch(forum, "duplicate_title_names_topic"):
        assert "duplicate_topic_titles" not in names
        r = forum.request("PUT", "/admin/site_settings/duplicate_topic_titles", data={"duplicate_topic_titles": "allowed"})
        assert r.status_code == 422
        forum.set_site_settings(allow_duplicate_topic_titles=True)
    else:
        assert "duplicate_topic_titles" in names
        forum.set_site_settings(duplicate_topic_titles="allowed")
    new_topic(forum, title="The same title twice over")
    new_topic(forum, title="The same title twice over")


def test_duplicate_title_hidden_from_the_user(profile_forum):
    """After PR #41871 only a topic the user can see (or one in the destination category) blocks
    the title; before it, any."""
    forum = profile_forum
    staff_only = forum.request("POST", "/categories.json", data={"name": "Staff room", "permissions[staff]": "1"})
    cat = staff_only.json()["category"]["id"]
    new_topic(forum, title="A title in a hidden place", category=str(cat))
    key = forum.create_api_key(all_users=True)
    member = _member(forum)
    r = forum.request("POST", "/posts.json", data={"title": "A title in a hidden place", "raw": BODY},
                      headers={"Api-Key": key, "Api-Username": member})
    if not switch(forum, "duplicate_title_names_topic"):
        assert r.status_code == 422 and r.json()["errors"] == ["Title has already been used"]
    else:
        assert r.status_code == 200, r.text


def _member(forum) -> str:
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    sso, sig = signed({"external_id": "m-1", "email": "member@example.org", "username": "member1",
                       "name": "M"})
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    assert r.status_code == 200, r.text
    return r.json()["username"]




# -- c. app/services/user/suspend.rb, Admin::UsersController#suspend ------------------------------------------
def test_suspend_twice_too_long_reason_and_staff(profile_forum):
    forum = profile_forum
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    sso, sig = signed({"external_id": "s-1", "email": "s1@example.org", "username": "suspendme"})
    user = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig}).json()
    url = f"/admin/users/{user['id']}/suspend.json"
    r = forum.request("PUT", url, data={"suspend_until": "2099-01-01", "reason": "x" * 301})
    assert r.status_code == 400
    assert r.json() == {"failed": "FAILED", "errors": ["Reason is too long (maximum is 300 characters)"]}
    r = forum.request("PUT", url, data={"suspend_until": "2099-01-01", "reason": "first"})
    assert r.status_code == 200
    r = forum.request("PUT", url, data={"suspend_until": "2098-01-01", "reason": "again"})
    assert r.status_code == 409
    body = r.json()
    assert body["failed"] == "FAILED"
    assert body["message"].startswith("User was already suspended by system ")
    assert forum.state()["users"][str(user["id"])]["suspend_reason"] == "first"  # the first suspension stands
    # Guardian#can_suspend?: staff cannot be suspended -> 403
    sso, sig = signed({"external_id": "s-2", "email": "mod@example.org", "username": "amod", "moderator": "true"})
    mod = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig}).json()
    r = forum.request("PUT", f"/admin/users/{mod['id']}/suspend.json", data={"suspend_until": "2099-01-01",
                                                                            "reason": "no"})
    assert r.status_code == 403 and r.json()["error_type"] == "invalid_access"


# -- d. app/models/discourse_connect.rb (match_email_or_create_user) -----------------------------------------
def test_require_activation_with_a_known_email(profile_forum):
    forum = profile_forum
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    sso, sig = signed({"external_id": "e-1", "email": "taken@example.org", "username": "first"})
    assert forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig}).status_code == 200
    sso, sig = signed({"external_id": "e-2", "email": "taken@example.org", "username": "second",
                       "require_activation": "true"})
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    assert r.status_code == 403
    assert r.json() == {"failed": "FAILED", "message": "Validation failed: Primary email has already been taken"}
    users = forum.request("GET", "/admin/users/list/active.json", params={"email": "taken@example.org"}).json()
    assert [u["username"] for u in users] == ["first"]
    # the browser login answers the email_error page (SessionController#sso_login)
    with ConnectProvider(SECRET) as provider:
        forum.enable_discourse_connect(provider.url + "/sso", SECRET)
        provider.user = {"external_id": "e-3", "email": "taken@example.org", "username": "third",
                         "require_activation": True}
        r = requests.Session().get(f"{forum.url}/session/sso")
        assert r.status_code == 500
        assert "An account could not be registered with the email address <b>taken@example.org</b>" in r.text
    assert forum.request("GET", "/u/by-external/e-3.json").status_code == 404


# -- e. app/models/user.rb reserved_username?, lib/user_name_suggester.rb -----------------------------------
def test_reserved_username_gets_a_number(profile_forum):
    forum = profile_forum
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    sso, sig = signed({"external_id": "r-1", "email": "support@example.org", "username": "Support"})
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    assert r.status_code == 200 and r.json()["username"] == "Support1"
    assert forum.request("GET", "/u/by-external/r-1.json").json()["user"]["username"] == "Support1"


@pytest.mark.parametrize("sent, kept", [("a--b", "a_b"), ("x", "x11"), ("Ünïcode", "Unicode")])
def test_username_validator_repairs(profile_forum, sent, kept):
    """app/models/username_validator.rb (unicode_usernames off): a name it refuses is repaired."""
    forum = profile_forum
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    sso, sig = signed({"external_id": f"v-{sent}", "email": "v@example.org", "username": sent})
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    assert r.status_code == 200 and r.json()["username"] == kept


# -- g. lib/text_sentinel.rb, lib/validators/quality_title_validator.rb --------------------------------------
@pytest.mark.parametrize("title, error", [
    ("東京 NEWS UPDATE TODAY", None),                          # an "other" letter is not shouting
    ("A word " + "x" * 31 + " in a title", "Title seems unclear, one or more words is very long?"),
    ("A word " + "x" * 30 + " in a title", None),               # title_max_word_length is 30
    ("!@#$ %^&* ()[] {}<> ~~~~", "Title seems unclear, is it a complete sentence?"),
    ("SHOUTING IS NOT ALLOWED HERE", "Title seems unclear, did you mean to enter it in ALL CAPS?"),
    ("aaaaaaaaaaaaaaaaaaaaaa", "Title seems unclear, most of the words contain the same letters over and over?"),
])
def test_title_sentinel(profile_forum, title, error):
    r = profile_forum.request("POST", "/posts.json", data={"title": title, "raw": BODY})
    if error is None:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 422 and r.json()["errors"] == [error], r.text


def test_title_entropy_counts_bytes(profile_forum):
    """Eleven distinct bytes, though only five distinct characters: accepted (TextSentinel#entropy)."""
    title = "日本語文 日本語文 日本語文 日本語文"
    assert len(set(title)) == 5 and len(set(title.encode())) == 11
    r = profile_forum.request("POST", "/posts.json", data={"title": title, "raw": BODY})
    assert r.status_code == 200, r.text


# -- f. app/models/topic.rb (external_id), TopicsController#show_by_external_id -------------------------------
@pytest.mark.parametrize("eid, errors", [
    ("wp-é1", ["External is invalid"]),                                    # Ruby's \w is ASCII
    ("x" * 51, ["External is too long (maximum is 50 characters)"]),
    ("x" * 50 + "!", ["External is too long (maximum is 50 characters)", "External is invalid"]),
    ("x" * 50, None),
])
def test_external_id_format_and_length(profile_forum, eid, errors):
    r = profile_forum.request("POST", "/posts.json", data={"title": "A topic with an external id", "raw": BODY,
                                                          "external_id": eid})
    if errors is None:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 422 and r.json()["errors"] == errors


def test_external_id_unique_across_case_and_deleted_topics(profile_forum):
    forum = profile_forum
    topic = new_topic(forum, title="The first holder of the id", external_id="WP-7")
    r = forum.request("POST", "/posts.json", data={"title": "Another topic entirely here", "raw": BODY,
                                                  "external_id": "wp-7"})
    assert r.status_code == 422 and r.json()["errors"] == ["External has already been taken"]
    assert forum.request("GET", "/t/external_id/wp-7.json").status_code == 404       # case-sensitive
    assert forum.request("GET", "/t/external_id/WP-7.json").status_code == 301
    assert forum.request("DELETE", f"/t/{topic['topic_id']}.json").status_code == 200
    assert forum.request("GET", "/t/external_id/WP-7.json").status_code == 404
    r = forum.request("POST", "/posts.json", data={"title": "Another topic entirely here", "raw": BODY,
                                                  "external_id": "WP-7"})
    assert r.status_code == 422 and r.json()["errors"] == ["External has already been taken"]


def test_topic_errors_come_before_body_errors(profile_forum):
    """lib/post_creator.rb PostCreator#valid?: TopicCreator's errors alone, then the post's."""
    r = profile_forum.request("POST", "/posts.json", data={"title": "Short", "raw": "short", "external_id": "é"})
    assert r.status_code == 422
    assert r.json()["errors"] == ["Title is too short (minimum is 15 characters)",
                                  "Title seems unclear, most of the words contain the same letters over and over?",
                                  "External is invalid"]


# -- h. app/models/topic_embed.rb, lib/post_creator.rb (embed_unlisted, make_visible) ------------------------
def test_embed_url_is_freed_when_its_topic_is_deleted(profile_forum):
    forum = profile_forum
    url = "https://space.example/2024/01/post"
    first = new_topic(forum, title="The first embedded topic", embed_url=url)
    r = forum.request("POST", "/posts.json", data={"title": "The second embedded topic", "raw": BODY, "embed_url": url})
    assert r.status_code == 422 and r.json()["errors"] == ["Embed url has already been taken"]
    assert forum.request("DELETE", f"/t/{first['topic_id']}.json").status_code == 200
    new_topic(forum, title="The second embedded topic, again", embed_url=url)  # not the memoized request


def test_embed_unlisted_until_a_reply(profile_forum):
    forum = profile_forum
    forum.set_site_settings(embed_unlisted=True)
    topic = new_topic(forum, title="An embedded topic, unlisted", embed_url="https://space.example/p/1")
    assert forum.request("GET", f"/t/{topic['topic_id']}.json").json()["visible"] is False
    plain = new_topic(forum, title="A topic without an embed url")
    assert forum.request("GET", f"/t/{plain['topic_id']}.json").json()["visible"] is True
    r = forum.request("POST", "/posts.json", data={"raw": BODY + " A reply.", "topic_id": topic["topic_id"]})
    assert r.status_code == 200, r.text
    assert forum.request("GET", f"/t/{topic['topic_id']}.json").json()["visible"] is True


# -- i. lib/auth/default_current_user_provider.rb ------------------------------------------------------------
def test_one_admin_api_bucket_for_all_keys(profile_forum):
    forum = profile_forum
    other = forum.create_api_key("system")
    forum.set_rate_limit(3, 30)
    assert forum.request("GET", "/latest.json").status_code == 200
    assert forum.request("GET", "/latest.json", headers={"Api-Key": other}).status_code == 200
    assert forum.request("GET", "/latest.json").status_code == 200
    r = forum.request("GET", "/latest.json", headers={"Api-Key": other})
    assert r.status_code == 429 and r.headers["Discourse-Rate-Limit-Error-Code"] == "admin_api_key_rate_limit"


def test_suspended_or_inactive_api_user_is_refused(profile_forum):
    forum = profile_forum
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    key = forum.create_api_key(all_users=True)
    sso, sig = signed({"external_id": "a-1", "email": "poster@example.org", "username": "poster"})
    user = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig}).json()
    as_poster = {"Api-Key": key, "Api-Username": "poster"}
    r = forum.request("POST", "/posts.json", data={"title": "A topic by a member here", "raw": BODY}, headers=as_poster)
    assert r.status_code == 200, r.text
    forum.request("PUT", f"/admin/users/{user['id']}/suspend.json", data={"suspend_until": "2099-01-01", "reason": "x"})
    r = forum.request("POST", "/posts.json", data={"title": "Another topic by the member", "raw": BODY},
                      headers=as_poster)
    assert r.status_code == 403
    assert r.json() == {"errors": ["You are not permitted to view the requested resource."], "error_type": "invalid_access"}
    sso, sig = signed({"external_id": "a-2", "email": "new@example.org", "username": "newbie", "require_activation": "true"})
    assert forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig}).json()["active"] is False
    r = forum.request("GET", "/latest.json", headers={"Api-Key": key, "Api-Username": "newbie"})
    assert r.status_code == 403


# -- j. app/jobs/regular/emit_web_hook_event.rb, app/models/web_hook_event_type.rb ---------------------------
def test_ping_names_its_event(profile_forum):
    forum = profile_forum
    with WebhookReceiver() as receiver:
        hook = forum.add_webhook(receiver.url + "/hook", "hook-secret-1234567890", ["post_created"])
        assert forum.request("POST", f"/admin/api/web_hooks/{hook['id']}/ping.json").status_code == 200
        [got] = receiver.wait_for(lambda r: len(r) >= 1)
    assert got["headers"]["X-Discourse-Event-Type"] == "ping"
    assert got["headers"]["X-Discourse-Event"] == "ping"
    assert json.loads(got["body"]) == {"ping": "OK"}


def test_flag_event_types_per_release(profile_forum):
    """One flag: flag_created and reviewable_created where WebHookEventType::TYPES has flag types,
    reviewable_created alone where it has none (profiles.Profile.web_hook_flag_events)."""
    forum = profile_forum
    flags = switch(forum, "web_hook_flag_events")
    assert ("flag_created" in forum.event_type_ids()) is flags
    topic = new_topic(forum, title="A topic that gets a flag")
    with WebhookReceiver() as receiver:
        forum.add_webhook(receiver.url + "/hook", "hook-secret-1234567890", wildcard=True)
        forum.request("POST", "/post_actions.json", data={"id": topic["id"], "post_action_type_id": "4"})
        got = receiver.wait_for(lambda r: len(r) >= (2 if flags else 1))
        assert forum.wait_for_web_hooks()
    events = sorted(r["headers"]["X-Discourse-Event"] for r in got)
    assert events == (["flag_created", "reviewable_created"] if flags else ["reviewable_created"])


# -- k. app/models/category.rb, lib/discourse_tagging.rb, app/controllers/posts_controller.rb ---------------
def test_duplicate_automatic_category_slug_is_blanked(profile_forum):
    """Category#ensure_slug: a slug made from the name that another category has becomes ""; a
    duplicate slug given explicitly is an error."""
    forum = profile_forum
    assert forum.request("POST", "/categories.json", data={"name": "Wikis"}).json()["category"]["slug"] == "wikis"
    r = forum.request("POST", "/categories.json", data={"name": "Wikis!"})
    assert r.status_code == 200 and r.json()["category"]["slug"] == ""
    r = forum.request("POST", "/categories.json", data={"name": "Other wikis", "slug": "wikis"})
    assert r.status_code == 422


def test_tags_beyond_the_maximum_are_dropped(profile_forum):
    """DiscourseTagging.tags_for_saving: existing tags first, cut to max_tags_per_topic, no error."""
    forum = profile_forum
    forum.set_site_settings(max_tags_per_topic=2)
    topic = new_topic(forum, title="A topic with many tags")
    r = forum.request("PUT", f"/t/-/{topic['topic_id']}.json", data={"tags[]": ["one", "two", "three"]})
    assert r.status_code == 200, r.text
    t = forum.request("GET", f"/t/{topic['topic_id']}.json").json()
    assert [x["name"] for x in t["tags"]] == ["one", "two"]
    r = forum.request("PUT", f"/t/-/{topic['topic_id']}.json", data={"tags[]": ["new", "three", "two"]})
    assert [x["name"] for x in forum.request("GET", f"/t/{topic['topic_id']}.json").json()["tags"]] == ["two", "new"]


def test_identical_api_create_is_answered_from_the_memo(profile_forum):
    """PostsController#create memoizes an API request for 120 s (DistributedMemoizer): the same
    request again gets the first answer and makes no second topic."""
    forum = profile_forum
    data = {"title": "A topic sent twice over the API", "raw": BODY}
    first = forum.request("POST", "/posts.json", data=data)
    again = forum.request("POST", "/posts.json", data=data)
    assert first.status_code == again.status_code == 200
    assert again.json()["topic_id"] == first.json()["topic_id"]
    titles = [t["title"] for t in forum.request("GET", "/latest.json").json()["topic_list"]["topics"]]
    assert titles.count("A topic sent twice over the API") == 1
    # another request (or another user) is no memo hit: here the title is taken
    r = forum.request("POST", "/posts.json", data=dict(data, raw=BODY + " Changed."))
    assert r.status_code == 422

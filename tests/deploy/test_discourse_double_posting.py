"""What the double does with the parameters third-party clients (wp-discourse 2.6.1's
lib/discourse-publish.php) send to POST /posts.json and PUT /posts/{id}.json, as Discourse's
app/controllers/posts_controller.rb, lib/post_creator.rb, lib/topic_creator.rb and
lib/post_revisor.rb apply them. Every test runs against both version profiles (the behaviour is
the same in both) and names the Discourse file it follows."""

from __future__ import annotations

import pytest

from discourse_double_helpers import WebhookReceiver, sign_payload

BODY = "A first post that is long enough for Discourse."
SECRET = "connect-secret-0123456789"
LINK = "https://blog.example.org/2026/12/a-post/"


def create(forum, headers=None, **fields):
    return forum.request("POST", "/posts.json", json={"raw": BODY, **fields}, headers=headers)


def topic_json(forum, topic_id):
    return forum.request("GET", f"/t/{topic_id}.json").json()


def member(forum, username="member_one"):
    """Api-Key headers of a member who is not staff (the double's users start at trust level 1),
    made through sync_sso."""
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    sso, sig = sign_payload({"external_id": f"ext-{username}", "username": username,
                             "email": f"{username}@example.org"}, SECRET)
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    assert r.status_code == 200, r.text
    return {"Api-Key": forum.create_api_key(username), "Api-Username": username}


# -- PUT /posts/{id}: app/controllers/posts_controller.rb#update, lib/post_revisor.rb -------------------------
def test_a_title_on_the_first_post_renames_the_topic(profile_forum):
    forum = profile_forum
    post = create(forum, title="A title written at first").json()
    r = forum.request("PUT", f"/posts/{post['id']}.json",
                      json={"title": "A title written afterwards", "post": {"raw": BODY + " Edited."}})
    assert r.status_code == 200, r.text
    assert r.json()["post"]["topic_slug"] == "a-title-written-afterwards"
    topic = topic_json(forum, post["topic_id"])
    assert (topic["title"], topic["slug"]) == ("A title written afterwards", "a-title-written-afterwards")
    # the same title again is no change, and the raw alone is revised
    r = forum.request("PUT", f"/posts/{post['id']}.json",
                      json={"title": "A title written afterwards", "post": {"raw": BODY + " Edited twice."}})
    assert r.status_code == 200 and r.json()["post"]["raw"] == BODY + " Edited twice."
    assert forum.violations() == []


def test_a_title_on_the_first_post_is_validated_like_a_topic_update(profile_forum):
    forum = profile_forum
    taken = create(forum, title="A title somebody already has").json()
    post = create(forum, title="A title that stays as it was").json()
    r = forum.request("PUT", f"/posts/{post['id']}.json", json={"title": "Short", "post": {"raw": BODY + " New."}})
    # app/models/topic.rb's title validations, as PUT /t/-/{id} answers them
    assert r.status_code == 422 and r.json()["errors"] == [
        "Title is too short (minimum is 15 characters)",
        "Title seems unclear, most of the words contain the same letters over and over?"]
    r = forum.request("PUT", f"/posts/{post['id']}.json",
                      json={"title": "A title somebody already has", "post": {"raw": BODY + " New."}})
    assert r.status_code == 422
    if forum.profile == "stable-2025":
        assert r.json()["errors"] == ["Title has already been used"]
    else:  # PR #41871 names the topic holding the title
        assert r.json()["errors"][0].startswith("This title has already been used by")
        assert f"/{taken['topic_id']}" in r.json()["errors"][0]
    # the post's errors come first (PostsController#update renders post.errors before topic.errors)
    r = forum.request("PUT", f"/posts/{post['id']}.json", json={"title": "Short", "post": {"raw": "Tiny"}})
    assert r.status_code == 422 and r.json()["errors"] == ["Body is too short (minimum is 20 characters)"]
    # a revision that fails changes nothing: neither the title nor the raw
    topic = topic_json(forum, post["topic_id"])
    assert topic["title"] == "A title that stays as it was"
    assert forum.request("GET", f"/posts/{post['id']}.json").json()["raw"] == BODY


def test_a_title_on_a_reply_is_not_the_topics(profile_forum):
    forum = profile_forum
    first = create(forum, title="A topic with a reply below").json()
    reply = create(forum, topic_id=first["topic_id"], raw=BODY + " A reply.").json()
    r = forum.request("PUT", f"/posts/{reply['id']}.json",
                      json={"title": "A title a reply cannot give", "post": {"raw": BODY + " A reply, edited."}})
    assert r.status_code == 200, r.text
    assert topic_json(forum, first["topic_id"])["title"] == "A topic with a reply below"


def test_a_category_on_the_first_post_moves_the_topic(profile_forum):
    forum = profile_forum
    cid = forum.request("POST", "/categories.json", json={"name": "Moved here"}).json()["category"]["id"]
    post = create(forum, title="A topic that changes category").json()
    r = forum.request("PUT", f"/posts/{post['id']}.json", json={"post": {"raw": BODY, "category_id": str(cid)}})
    assert r.status_code == 200, r.text
    assert topic_json(forum, post["topic_id"])["category_id"] == cid
    r = forum.request("PUT", f"/posts/{post['id']}.json", json={"post": {"raw": BODY + " More.", "category_id": "999"}})
    assert r.status_code == 422 and r.json()["errors"] == ["Category not found!"]
    assert forum.request("GET", f"/posts/{post['id']}.json").json()["raw"] == BODY


def test_revising_the_topic_through_its_first_post_is_a_topic_edited_event(profile_forum):
    # config/initializers/012-web_hook_events.rb: a first post revised with topic fields emits
    # topic_edited instead of post_edited; without them, post_edited
    forum = profile_forum
    post = create(forum, title="A topic whose hooks are counted").json()
    reply = create(forum, topic_id=post["topic_id"], raw=BODY + " A reply.").json()
    with WebhookReceiver() as receiver:
        forum.add_webhook(receiver.url + "/hook", "hook-secret-1234567890", ["topic_edited", "post_edited"])
        forum.request("PUT", f"/posts/{post['id']}.json",
                      json={"title": "A topic whose hooks were counted", "post": {"raw": BODY + " Edited."}})
        forum.request("PUT", f"/posts/{reply['id']}.json", json={"post": {"raw": BODY + " A reply, edited."}})
        receiver.wait_for(lambda r: len(r) >= 2)
        assert forum.wait_for_web_hooks()
        assert receiver.events() == ["topic_edited", "post_edited"]


# -- POST /posts.json: visible (lib/topic_creator.rb#validate_visibility) ----------------------------------------
def test_visible_false_unlists_and_only_staff_or_embeds_may_ask(profile_forum):
    forum = profile_forum
    staff = create(forum, title="Unlisted by a staff member", visible="false").json()
    as_member = member(forum)
    r = create(forum, as_member, title="Unlisted by a member alone", visible="false")
    # Guardian#can_create_unlisted_topic?: staff, or a topic with an embed_url
    assert r.status_code == 422 and r.json()["errors"] == ["Sorry, you cannot create an unlisted topic."]
    embedded = create(forum, as_member, title="Unlisted by a member with an embed", visible="false",
                      embed_url="https://blog.example.org/embedded/").json()
    skipped = create(forum, as_member, title="Unlisted by a member skipping validations", visible="false",
                     skip_validations="true").json()
    listed = [t["id"] for t in forum.request("GET", "/latest.json", auth=False).json()["topic_list"]["topics"]]
    for t in (staff, embedded, skipped):
        assert t["topic_id"] not in listed
        assert topic_json(forum, t["topic_id"])["visible"] is False
    assert forum.violations() == []


# -- POST /posts.json: featured_link (lib/topic_creator.rb, app/models/topic.rb, lib/guardian.rb) ----------------
def test_featured_link_is_stored_and_shown(profile_forum):
    forum = profile_forum
    post = create(forum, title="A topic with a featured link", featured_link=f"  {LINK} ").json()
    assert topic_json(forum, post["topic_id"])["featured_link"] == LINK  # stripped before validation
    latest = forum.request("GET", "/latest.json").json()["topic_list"]["topics"]
    assert [t["featured_link"] for t in latest if t["id"] == post["topic_id"]] == [LINK]
    r = create(forum, title="A topic with a broken featured link", featured_link="blog.example.org/no-scheme")
    assert r.status_code == 422 and r.json()["errors"] == ["Featured Link is invalid"]  # UrlValidator
    assert forum.violations() == []


def test_featured_link_needs_the_site_setting(profile_forum):
    forum = profile_forum
    forum.set_site_settings(topic_featured_link_enabled=False)
    r = create(forum, title="A featured link the site does not allow", featured_link=LINK)
    # Topic's validation: Guardian#can_edit_featured_link? (server.en.yml topic featured_link invalid)
    assert r.status_code == 422
    assert r.json()["errors"] == ["Featured Link is invalid. URL should include http:// or https://."]
    # wp-discourse sends skip_validations: the topic is saved unvalidated; the serializers leave
    # the link out while the setting is off (include_featured_link?)
    post = create(forum, title="A featured link saved unvalidated", featured_link=LINK, skip_validations="true").json()
    assert topic_json(forum, post["topic_id"])["featured_link"] is None
    forum.set_site_settings(topic_featured_link_enabled=True)
    assert topic_json(forum, post["topic_id"])["featured_link"] == LINK


def test_featured_link_on_topic_update(profile_forum):
    # wp-discourse updates it with PUT /t/{slug}/{id} (lib/discourse-publish.php); PostRevisor's
    # featured_link field (lib/post_revisor.rb), TopicsController#update's :unable_to_update
    forum = profile_forum
    post = create(forum, title="A topic whose link comes later").json()
    r = forum.request("PUT", f"/t/a-topic-whose-link-comes-later/{post['topic_id']}.json", json={"featured_link": LINK})
    assert r.status_code == 200, r.text
    assert topic_json(forum, post["topic_id"])["featured_link"] == LINK
    r = forum.request("PUT", f"/t/-/{post['topic_id']}.json", json={"featured_link": "not a link"})
    assert r.status_code == 422 and r.json()["errors"] == ["Featured Link is invalid"]
    forum.set_site_settings(topic_featured_link_enabled=False)
    r = forum.request("PUT", f"/t/-/{post['topic_id']}.json", json={"featured_link": LINK + "?v=2"})
    assert r.status_code == 422 and r.json()["errors"] == ["There was an error updating that topic."]
    assert forum.violations() == []


# -- POST /posts.json: skip_validations (lib/post_creator.rb#valid?, posts_controller.rb#create_params) -----------
@pytest.mark.parametrize("who", ["staff", "member"])
def test_skip_validations_skips_the_topics_and_the_posts_validations(profile_forum, who):
    # PostCreator#valid? returns early under skip_validations for any API caller: no staff check
    forum = profile_forum
    headers = member(forum) if who == "member" else None
    fields = {"title": "Short", "raw": "Tiny"}
    r = create(forum, headers, **fields)
    assert r.status_code == 422
    r = create(forum, headers, skip_validations="true", **fields)
    assert r.status_code == 200, r.text
    assert topic_json(forum, r.json()["topic_id"])["title"] == "Short"
    # "true" alone is true (create_params: params[:skip_validations].to_s == "true")
    r = create(forum, headers, skip_validations="1", title="Short too", raw="Tiny too")
    assert r.status_code == 422
    # the embed_url stays unique: TopicEmbed is saved with its own validation (create_embedded_topic)
    embed = {"embed_url": "https://blog.example.org/once/", "skip_validations": "true", "raw": "Tiny"}
    assert create(forum, headers, title="Embedded once", **embed).status_code == 200
    r = create(forum, headers, title="Embedded twice", **embed)
    assert r.status_code == 422 and r.json()["errors"] == ["Embed url has already been taken"]


# -- POST /posts.json: created_at (posts_controller.rb#create_params, API only) -------------------------------------
def test_created_at_dates_the_topic_and_its_first_post(profile_forum):
    # lib/topic_creator.rb#setup_topic_params (convert_time) and lib/post_creator.rb#setup_post
    # (Time.zone.parse) both take it: an import keeps the blog post's date
    forum = profile_forum
    post = create(forum, title="A topic from the archive", created_at="2019-04-01T10:20:30+02:00").json()
    assert post["created_at"] == "2019-04-01T08:20:30.000Z"
    assert topic_json(forum, post["topic_id"])["created_at"] == "2019-04-01T08:20:30.000Z"

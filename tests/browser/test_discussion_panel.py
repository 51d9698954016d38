"""The editor's "Forum discussion" panel and the posts list's "Discussion" column
(deploy/wordpress/space-bridge-discussion.php) in real Chromium, on the stack's real WordPress,
with the bridge (sync/discussion.py and the mirror) served over HTTP and the Discourse double.

A post published by the admin is mirrored (the mu-plugin's web hook reaches the bridge, its job
runs here); then, as people would:

- an editor opens the post in the block editor: the panel shows its topic, the state the bridge
  reports and the last sync; "Sync now" puts a new mirror job in the bridge's outbox;
- the editor re-attaches another post to an existing forum topic ("Link to an existing topic…"):
  an unknown topic number is refused with the bridge's reason, a real one is linked and the
  post's meta then names it;
- a contributor, who may not edit the admin's post, sees its discussion in the posts list but no
  "Sync now", and the sync route refuses them even with a valid REST nonce;
- an author, who may edit their own post but not others', gets "Sync now" and no "Link".

Screenshots go to test-artifacts/browser/<test name>/.
"""

from __future__ import annotations

import re
import secrets
import sys
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))  # mirror_harness
from mirror_harness import MirrorEnv, ensure_categories, write_wp_constants  # noqa: E402

# with the other browser tests: real Chromium (deploy/dev/browser.sh), run under the stack lock
pytestmark = pytest.mark.stack

PANEL = "space-bridge-discussion/space-bridge-discussion"


@pytest.fixture(scope="module")
def forum():
    from doubles.discourse import DiscourseDouble

    with DiscourseDouble() as double:
        ensure_categories(double)
        yield double


@pytest.fixture(scope="module")
def env(stack, forum, tmp_path_factory):
    env = MirrorEnv(stack, forum, tmp_path_factory.mktemp("discussion"))
    env.point_wordpress_here(timeout=2.0)
    try:
        yield env
    finally:
        write_wp_constants(None, None)
        env.close()


@pytest.fixture(scope="module")
def wp(stack):
    """The admin's REST session (Application Password), and the users and posts it made, removed after."""
    info = stack["wordpress"]
    s = requests.Session()
    s.auth = (info["admin_user"], info["app_password"])
    made = {"users": [], "posts": []}

    def user(role: str) -> tuple[str, str]:
        name, password = f"panel-{role}-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
        r = s.post(f"{info['url']}/wp-json/wp/v2/users", json={
            "username": name, "email": f"{name}@space-bridge.test", "password": password, "roles": [role]}, timeout=20)
        r.raise_for_status()
        made["users"].append(r.json()["id"])
        return name, password

    def post(title: str, status: str = "publish", author: int | None = None) -> int:
        body = {"title": title, "content": f"<p>{title}: a post whose discussion the editor looks after.</p>",
                "status": status, **({"author": author} if author else {})}
        r = s.post(f"{info['url']}/wp-json/wp/v2/posts", json=body, timeout=20)
        r.raise_for_status()
        made["posts"].append(r.json()["id"])
        return r.json()["id"]

    def meta(post_id: int) -> dict:
        r = s.get(f"{info['url']}/wp-json/wp/v2/posts/{post_id}", params={"context": "edit"}, timeout=20)
        r.raise_for_status()
        return r.json()["meta"]

    def user_id(name: str) -> int:
        r = s.get(f"{info['url']}/wp-json/wp/v2/users", params={"search": name, "context": "edit"}, timeout=20)
        return next(u["id"] for u in r.json() if u["username"] == name)

    yield type("Wp", (), {"url": info["url"], "user": staticmethod(user), "post": staticmethod(post),
                          "meta": staticmethod(meta), "user_id": staticmethod(user_id)})
    for post_id in made["posts"]:
        s.delete(f"{info['url']}/wp-json/wp/v2/posts/{post_id}", params={"force": "true"}, timeout=20)
    for uid in made["users"]:
        s.delete(f"{info['url']}/wp-json/wp/v2/users/{uid}", params={"force": "true", "reassign": 1}, timeout=20)


def login(page, wp_url: str, name: str, password: str) -> None:
    page.goto(wp_url + "/wp-login.php")
    page.fill("#user_login", name)
    page.fill("#user_pass", password)
    page.click("#wp-submit")
    page.wait_for_url("**/wp-admin/**")


def open_panel(page, wp_url: str, post_id: int) -> None:
    """The post in the block editor, welcome guide closed, the Post sidebar and our panel open."""
    page.goto(f"{wp_url}/wp-admin/post.php?post={post_id}&action=edit")
    page.wait_for_function("window.wp && wp.data && wp.data.select('core/editor').getCurrentPostId() > 0")
    page.evaluate("""(panel) => {
        const prefs = wp.data.dispatch('core/preferences');
        if (prefs) { prefs.set('core/edit-post', 'welcomeGuide', false); }
        const edit = wp.data.dispatch('core/edit-post');
        edit.openGeneralSidebar('edit-post/document');
        if (!wp.data.select('core/edit-post').isEditorPanelOpened(panel)) { edit.toggleEditorPanelOpened(panel); }
    }""", PANEL)
    page.wait_for_selector(".space-bridge-discussion .space-bridge-discussion-state")
    page.locator(".space-bridge-discussion").scroll_into_view_if_needed()


def mirror_jobs(env, post_id: int) -> list:
    return [j for j in env.outbox.list(kind="mirror.post", limit=1000) if j.payload.get("post_id") == post_id]


def wait_for(condition, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def rest_nonce(page, wp_url: str) -> str:
    r = page.request.get(wp_url + "/wp-admin/admin-ajax.php?action=rest-nonce")
    assert r.ok, r.status
    return r.text()


@pytest.fixture(scope="module")
def mirrored(env, wp):
    """A published post of the admin with its topic (the web hook's mirror job run), and its meta."""
    post_id = wp.post("Beekeepers meet in spring")
    env.wait_for_jobs(1)
    env.drain()
    meta = wait_for(lambda: (m := wp.meta(post_id)).get("_space_bridge_topic_url") and m, "the topic in the meta")
    return post_id, meta


def test_editor_sees_the_topic_and_sync_now_queues_a_mirror_job(env, wp, mirrored, page, shots):
    post_id, meta = mirrored
    name, password = wp.user("editor")
    login(page, wp.url, name, password)
    open_panel(page, wp.url, post_id)
    panel = page.locator(".space-bridge-discussion")
    link = panel.locator("a.space-bridge-discussion-topic-link")
    assert link.get_attribute("href") == meta["_space_bridge_topic_url"]
    assert link.inner_text() == f"Topic #{meta['_space_bridge_topic_id']}"
    assert panel.locator(".space-bridge-discussion-state").inner_text() == "State: Published"
    assert "Never" not in panel.locator(".space-bridge-discussion-synced").inner_text()
    assert panel.locator(".space-bridge-discussion-link-open").count() == 1  # an editor may re-attach
    shots("panel-published")

    before = {j.id for j in mirror_jobs(env, post_id)}
    panel.locator(".space-bridge-discussion-sync").click()
    notice = panel.locator(".space-bridge-discussion-notice")
    notice.wait_for()
    assert "asked to sync" in notice.inner_text()
    new = wait_for(lambda: [j for j in mirror_jobs(env, post_id) if j.id not in before], "a mirror job in the outbox")
    assert len(new) == 1 and new[0].state == "pending"
    assert new[0].payload["source"] == "webhook" and new[0].payload["hint"]["event"].startswith("sync:")
    shots("sync-now-asked")
    open_panel(page, wp.url, post_id)  # the state as the bridge now reports it
    assert page.locator(".space-bridge-discussion-state").inner_text() == "State: Pending"
    shots("sync-now-pending")
    env.drain()

    page.goto(wp.url + "/wp-admin/edit.php")
    row = page.locator(f"#post-{post_id}")
    assert row.locator("td.column-space_bridge_discussion a.space-bridge-topic-link").get_attribute("href") \
        == meta["_space_bridge_topic_url"]
    assert row.locator("a.space-bridge-sync").count() == 1
    row.hover()
    shots("posts-list-editor")


def test_editor_links_a_post_to_an_existing_topic(env, wp, forum, page, shots):
    from bridge.clients.discourse import DiscourseClient

    client = DiscourseClient(forum.url, forum.api_key, requests_per_minute=100000)
    topic = client.create_topic("The hives discussion from the old blog", "Moved here with the forum migration, long enough.")
    post_id = wp.post("The hives, moved from the old blog", status="draft")  # a draft: the mirror makes no topic
    wait_for(lambda: mirror_jobs(env, post_id), "the draft's web hook")
    env.drain()
    name, password = wp.user("editor")
    login(page, wp.url, name, password)
    open_panel(page, wp.url, post_id)
    panel = page.locator(".space-bridge-discussion")
    assert panel.locator(".space-bridge-discussion-state").inner_text() == "State: Not yet"
    panel.locator(".space-bridge-discussion-link-open").click()
    field = panel.locator(".space-bridge-discussion-topic-id input")
    field.fill("99999")
    panel.locator(".space-bridge-discussion-link-form button[type=submit]").click()
    notice = panel.locator(".space-bridge-discussion-notice")
    notice.wait_for()
    assert "there is no topic 99999 on the forum" in notice.inner_text()
    shots("link-unknown-topic")

    field.fill(str(topic.topic_id))
    panel.locator(".space-bridge-discussion-link-form button[type=submit]").click()
    page.wait_for_selector(".space-bridge-discussion-notice.is-success")
    assert "Linked" in notice.inner_text()
    env.drain()  # the bridge's jobs write the meta (and bring the topic in step)
    meta = wait_for(lambda: (m := wp.meta(post_id)).get("_space_bridge_topic_id") and m, "the linked topic in the meta")
    assert meta["_space_bridge_topic_id"] == str(topic.topic_id)
    open_panel(page, wp.url, post_id)
    assert page.locator("a.space-bridge-discussion-topic-link").inner_text() == f"Topic #{topic.topic_id}"
    assert "linked to an existing topic by " + name in page.locator(".space-bridge-discussion-note").inner_text()
    shots("linked")


def test_who_may_not_edit_the_post_sees_no_action(env, wp, mirrored, page, shots):
    post_id, meta = mirrored
    name, password = wp.user("contributor")
    login(page, wp.url, name, password)
    page.goto(wp.url + "/wp-admin/edit.php")
    row = page.locator(f"#post-{post_id}")
    # the discussion is shown (it is public under the post anyway), no action is offered
    assert row.locator("td.column-space_bridge_discussion a.space-bridge-topic-link").get_attribute("href") \
        == meta["_space_bridge_topic_url"]
    assert row.locator("a.space-bridge-sync").count() == 0
    row.hover()
    shots("posts-list-contributor")

    before = {j.id for j in mirror_jobs(env, post_id)}
    nonce = rest_nonce(page, wp.url)
    route = f"{wp.url}/wp-json/space-bridge/v1/discussion/{post_id}"
    seen = page.request.get(route, headers={"X-WP-Nonce": nonce})
    assert seen.ok and seen.json()["can_sync"] is False and seen.json()["can_link"] is False
    for action in ("sync", "link"):
        refused = page.request.post(f"{route}/{action}", headers={"X-WP-Nonce": nonce}, data={"topic_id": 1})
        assert refused.status == 403, (action, refused.status, refused.text())
    assert page.request.post(f"{route}/sync").status == 401  # no nonce: WordPress sees nobody
    assert {j.id for j in mirror_jobs(env, post_id)} == before
    page.goto(f"{wp.url}/wp-admin/post.php?post={post_id}&action=edit")
    assert page.locator(".space-bridge-discussion").count() == 0  # WordPress refuses the editor itself
    shots("editor-refused-contributor")


def test_author_may_sync_own_post_but_not_link(env, wp, page, shots):
    name, password = wp.user("author")
    post_id = wp.post("An author's own post", status="draft", author=wp.user_id(name))
    wait_for(lambda: mirror_jobs(env, post_id), "the draft's web hook")
    env.drain()
    login(page, wp.url, name, password)
    open_panel(page, wp.url, post_id)
    panel = page.locator(".space-bridge-discussion")
    assert panel.locator(".space-bridge-discussion-sync").count() == 1
    assert panel.locator(".space-bridge-discussion-link-open").count() == 0
    shots("panel-author")
    nonce = rest_nonce(page, wp.url)
    refused = page.request.post(f"{wp.url}/wp-json/space-bridge/v1/discussion/{post_id}/link",
                                headers={"X-WP-Nonce": nonce}, data={"topic_id": 1})
    assert refused.status == 403


def test_sync_now_in_the_posts_list_needs_its_nonce(env, wp, mirrored, page, shots):
    """The row action works without the editor's script: admin-post.php with a nonce bound to
    the post (check_admin_referer); the same address without it, or with another post's, is refused."""
    post_id, _meta = mirrored
    name, password = wp.user("editor")
    login(page, wp.url, name, password)
    page.goto(wp.url + "/wp-admin/edit.php")
    action = page.locator(f"#post-{post_id} a.space-bridge-sync")
    href = action.get_attribute("href")
    assert "_wpnonce=" in href

    before = {j.id for j in mirror_jobs(env, post_id)}
    for forged in (re.sub(r"_wpnonce=[^&]+", "", href), re.sub(r"_wpnonce=[^&]+", "_wpnonce=0123456789", href)):
        refused = page.request.get(forged.replace("&amp;", "&"), max_redirects=0)
        assert refused.status == 403, refused.status
    assert {j.id for j in mirror_jobs(env, post_id)} == before

    page.locator(f"#post-{post_id}").hover()  # row actions show on hover (or keyboard focus)
    action.click()
    page.wait_for_selector(".notice-success")
    assert "asked to sync" in page.locator(".notice-success").first.inner_text()
    new = wait_for(lambda: [j for j in mirror_jobs(env, post_id) if j.id not in before], "a mirror job in the outbox")
    assert len(new) == 1 and new[0].payload["hint"]["event"].startswith("sync:")
    page.set_viewport_size({"width": 1100, "height": 500})
    page.screenshot(path=str(shots.dir / "01-posts-list-synced.png"))
    env.drain()

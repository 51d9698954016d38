"""A third-party client as proof (issue 13, point 6a): wp-discourse 2.6.1, the WordPress plugin
that publishes posts to Discourse, installed in the real WordPress of the local stack and pointed
at the Discourse double, publishes a post; the topic is created, and the only violations are the
parameters real Discourse drops too.

wp-discourse is test data (../shared/peers/wp-discourse, unchanged, GPL-2.0-or-later): this test
copies it into WordPress's plugins folder, activates it, sets its options (WordPress options, see
../shared/peers/README.md) and removes it again; nothing of it is part of the product.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.stack

REPO = Path(__file__).resolve().parents[2]
PEER = REPO.parent / "shared" / "peers" / "wp-discourse"
PLUGIN = "wp-discourse/wp-discourse.php"
# its options (lib/discourse.php#initialize_plugin writes them), removed afterwards
OPTIONS = ("discourse_connect", "discourse_publish", "discourse_comment", "discourse_configurable_text",
           "discourse_webhook", "discourse_sso_common", "discourse_sso_provider", "discourse_sso_client",
           "discourse_logs", "discourse_option_groups", "wpdc_discourse_domain", "discourse_version",
           "discourse_configurable_text_backup")


def _php(code: str) -> str:
    """Run PHP inside WordPress (its own bootstrap, no WP-CLI in the stack); the last output line."""
    boot = ("define('WP_USE_THEMES', false); $_SERVER['HTTP_HOST']='127.0.0.1'; "
            "require '/usr/share/wordpress/wp-load.php'; require_once ABSPATH . 'wp-admin/includes/plugin.php'; ")
    out = subprocess.run(["php", "-d", "display_errors=stderr", "-r", boot + code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def _php_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.fixture
def wp_discourse(stack, forum):
    """wp-discourse active in the stack's WordPress, publishing to `forum` as `system`, every new
    post automatically, into a category of its own. Removed afterwards (the WordPress is shared)."""
    if not (PEER / "wp-discourse.php").is_file():
        pytest.skip(f"the peer plugin is not at {PEER}")
    plugins = Path(stack["wordpress"]["mu_plugins_dir"]).parent / "plugins"
    target = plugins / "wp-discourse"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(PEER, target)  # unchanged
    try:
        result = _php(f"$r = activate_plugin({_php_str(PLUGIN)}); echo is_wp_error($r) ? $r->get_error_message() : 'ok';")
        assert result == "ok", result
        r = forum.request("POST", "/categories.json", data={"name": f"Blog {uuid.uuid4().hex[:6]}"})
        assert r.status_code == 200, r.text
        category = r.json()["category"]["id"]
        # a second bootstrap: the active plugin's `init` has written its defaults (add_option)
        connect = {"url": forum.url, "api-key": forum.api_key, "publish-username": "system"}
        publish = {"publish-category": str(category), "auto-publish": 1, "auto-track": 1,
                   "allowed_post_types": ["post"]}
        _php("foreach (json_decode(" + _php_str(json.dumps({"discourse_connect": connect, "discourse_publish": publish}))
             + ", true) as $name => $values) { $cur = get_option($name); "
             "update_option($name, array_merge(is_array($cur) ? $cur : [], $values)); } echo 'ok';")
        yield {"category": category}
    finally:
        _php(f"deactivate_plugins({_php_str(PLUGIN)}); "
             + " ".join(f"delete_option({_php_str(o)});" for o in OPTIONS) + " echo 'ok';")
        shutil.rmtree(target, ignore_errors=True)


def _wp_rest(stack, method: str, path: str, **kw) -> dict:
    wp = stack["wordpress"]
    r = requests.request(method, f"{wp['rest_url']}{path}", auth=(wp["admin_user"], wp["app_password"]),
                         timeout=60, **kw)
    assert r.status_code in (200, 201), r.text[:500]
    return r.json()


def _meta(post_id: int, key: str):
    return json.loads(_php(f"echo json_encode(get_post_meta({int(post_id)}, {_php_str(key)}, true));"))


def test_wp_discourse_publishes_and_updates_through_the_double(stack, forum, wp_discourse):
    forum.clear_violations()
    title = f"Published by wp-discourse {uuid.uuid4().hex[:6]} for the community"
    post = _wp_rest(stack, "POST", "/wp/v2/posts", json={"title": title, "status": "publish",
                                                         "content": "<p>A post of the Space, long enough to be a topic "
                                                                    "on the forum, published by the peer plugin.</p>"})
    # wp-discourse publishes while WordPress saves the post (wp_after_insert_post)
    assert _meta(post["id"], "wpdc_publishing_response") == "success", _meta(post["id"], "wpdc_publishing_error")
    topic_id = int(_meta(post["id"], "discourse_topic_id"))
    topic = forum.request("GET", f"/t/{topic_id}.json").json()
    assert topic["title"] == title
    assert topic["category_id"] == wp_discourse["category"]
    first = forum.request("GET", f"/posts/{topic['post_stream']['posts'][0]['id']}.json").json()
    assert post["link"] in first["raw"]  # the template's {blogurl}
    # real Discourse drops nothing of wp-discourse's create (posts_controller.rb#create_params)
    assert forum.violations() == []

    # an update ("Update Discourse topic"): PUT /posts/{id} with title, post[raw], skip_validations
    _php(f"update_post_meta({int(post['id'])}, 'update_discourse_topic', 1); echo 'ok';")
    _wp_rest(stack, "POST", f"/wp/v2/posts/{post['id']}",
             json={"content": "<p>The post, edited in WordPress: a new sentence for the forum to show.</p>"})
    assert _meta(post["id"], "wpdc_publishing_response") == "success"
    first = forum.request("GET", f"/posts/{first['id']}.json").json()
    assert "a new sentence for the forum" in first["raw"]
    # PostsController#update reads the title and post[raw], not skip_validations: dropped there too
    assert [(v["kind"], v["route"], v["param"]) for v in forum.violations()] == [
        ("dropped_parameter", "PUT /posts/{id}.json", "skip_validations")]
    forum.clear_violations()  # a third-party client's, expected: not the bridge's (tests/conftest.py)

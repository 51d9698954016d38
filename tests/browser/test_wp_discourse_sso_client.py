"""A third-party DiscourseConnect client as proof (issue 13, point 6b): wp-discourse 2.6.1 in
its DiscourseConnect *client* mode, in the real WordPress of the local stack, pointed at the
bridge as if the bridge were its Discourse, logs a member in, in real Chromium.

wp-discourse sends the browser to ``<its Discourse URL>/session/sso_provider`` (its
lib/sso-client/query-redirect.php); the bridge sends it on to the blog's own route
(sso/session_path.py), the member logs in with the Wikimedia double and consents, and the
bridge's signed answer goes back to the blog, where wp-discourse (lib/sso-client/client.php)
checks the signature and its nonce, creates or finds the WordPress user *by external id* and
logs them in. One case's return URL holds ``~``: the bridge's old payload encoding (Python's
urlencode left ``~`` raw) put a ``+`` in that answer's Base64, which wp-discourse url-decodes
once more and then refuses; Rack's encoding (bridge/clients/discourse/connect.py) never does.
A request signed with a secret the bridge does not share is refused at the bridge.

wp-discourse is test data (../shared/peers/wp-discourse, unchanged, GPL-2.0-or-later): it is
copied into WordPress's plugins folder, activated and configured as tests/sync/
test_wp_discourse_publish.py does, and removed with its options, its nonce table and the users
it made. Screenshots go to test-artifacts/browser/<test name>/.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest

from tests.sync.test_wp_discourse_publish import OPTIONS, PEER, PLUGIN, _php, _php_str

pytestmark = pytest.mark.stack

MEMBER = "Alice Member"
EMAIL = "alice@example.org"
META = "discourse_sso_user_id"  # where wp-discourse keeps the provider's external_id (client.php)
# what wp-discourse itself adds beside its option groups (lib/sso-client/nonce.php)
NONCE_OPTION = "wpdiscourse_nonce_db_version"
#: a return URL the old encoding answered with a '+' in the Base64 (three '~': one of them lands
#: where a Base64 group is its last 6 bits, and 0x7E & 63 is 62, '+')
TILDE_PATH = "/?space=~~~member"


def _options(name: str, values: dict) -> None:
    _php("$cur = get_option(" + _php_str(name) + "); update_option(" + _php_str(name)
         + ", array_merge(is_array($cur) ? $cur : [], json_decode(" + _php_str(json.dumps(values))
         + ", true))); echo 'ok';")


def _users_with_meta() -> list[int]:
    return json.loads(_php("echo json_encode(array_map('intval', get_users(['meta_key' => " + _php_str(META)
                           + ", 'fields' => 'ID'])));"))


def _forget_member(space) -> None:
    """Start from a blog that does not know the member (an earlier test or run may have made them)."""
    for uid in _users_with_meta():
        space.wp_admin.delete(uid)
    existing = space.wp_admin.by_email(EMAIL)
    if existing:
        space.wp_admin.delete(existing["id"])


@pytest.fixture(scope="module")
def wp_discourse_client(space, stack):
    """wp-discourse active, its DiscourseConnect client on, its Discourse URL the bridge, its
    secret the blog's connect_secret; no look-up by email (identity is the external id only)."""
    if not (PEER / "wp-discourse.php").is_file():
        pytest.fail(f"the peer plugin is not at {PEER}")
    target = Path(stack["wordpress"]["mu_plugins_dir"]).parent / "plugins" / "wp-discourse"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(PEER, target)  # unchanged
    try:
        result = _php(f"$r = activate_plugin({_php_str(PLUGIN)}); "
                      "echo is_wp_error($r) ? $r->get_error_message() : 'ok';")
        assert result == "ok", result
        # a second bootstrap: the active plugin's `init` has written its defaults (add_option)
        _options("discourse_connect", {"url": space.bridge_url})
        _options("discourse_sso_common", {"sso-secret": connect_secret(space)})
        _options("discourse_sso_client", {"sso-client-enabled": 1, "sso-client-login-form-change": 1,
                                          "sso-client-sync-by-email": 0, "sso-client-disable-create-user": 0,
                                          "sso-client-sync-logout": 0})
        _forget_member(space)
        yield space
    finally:
        _forget_member(space)
        _php(f"deactivate_plugins({_php_str(PLUGIN)}); "
             + " ".join(f"delete_option({_php_str(o)});" for o in (*OPTIONS, NONCE_OPTION))
             + " global $wpdb; $wpdb->query(\"DROP TABLE IF EXISTS {$wpdb->prefix}discourse_nonce\"); echo 'ok';")
        shutil.rmtree(target, ignore_errors=True)


# -- helpers ------------------------------------------------------------------------------------------
def connect_secret(space) -> str:
    """The blog's connect_secret in the bridge's configuration (tests/browser/conftest.py)."""
    site = next(site for site in space.settings.wordpress.sites if site.name == "blog")
    return site.connect_secret.get_secret_value()


def wikimedia_login(page, shots, back: str) -> None:
    """On the Wikimedia double: log in, consent when asked, and wait to be back at `back`."""
    from doubles.wikimedia import DEFAULT_PASSWORD

    page.wait_for_url(re.compile(r".*Special(%3A|:)UserLogin.*"))
    page.fill("input[name=wpName]", MEMBER)
    page.fill("input[name=wpPassword]", DEFAULT_PASSWORD)
    shots("wikimedia-login-form")
    page.click("button[name=wploginattempt]")
    consent = r".*Special(%3A|:)OAuth(%2F|/)approve.*"
    page.wait_for_url(re.compile(f"^(({consent})|({re.escape(back)}/.*))$"))
    if re.fullmatch(consent, page.url):
        shots("wikimedia-consent")
        page.click("#mw-mwoauth-accept")
        page.wait_for_url(re.compile("^" + re.escape(back) + r"/.*"))
    page.wait_for_load_state()


def navigations(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.is_navigation_request() else None)  # redirects too
    return seen


def wordpress_me(page, wp_url) -> dict | None:
    """/wp-json/wp/v2/users/me with the browser's cookie (and the REST nonce WordPress gives a
    logged-in browser at admin-ajax.php?action=rest-nonce); None when WordPress says logged out."""
    nonce = page.request.get(wp_url + "/wp-admin/admin-ajax.php?action=rest-nonce")
    if nonce.status != 200 or not re.fullmatch(r"[0-9a-f]{10}", nonce.text().strip()):
        return None
    me = page.request.get(wp_url + "/wp-json/wp/v2/users/me", headers={"X-WP-Nonce": nonce.text().strip()})
    return me.json() if me.status == 200 else None


def bridge_external_id(page, bridge_url) -> str:
    """The bridge's external id for the member logged in in this browser (/whoami)."""
    return page.request.get(bridge_url + "/whoami").json()["account"]["sub"]


def answer_payload(seen: list[str], wp_url: str) -> str:
    """The `sso` of the bridge's signed answer as the browser brought it to WordPress."""
    answers = [u for u in seen if u.startswith(wp_url) and "sso=" in u and "sig=" in u]
    assert len(answers) == 1, answers
    return parse_qs(urlsplit(answers[0]).query)["sso"][0]


def assert_logged_in_by_external_id(page, space, shots) -> int:
    me = wordpress_me(page, space.wp_url)
    assert me is not None, "WordPress does not see the member logged in"
    page.goto(space.wp_url + "/wp-admin/profile.php")
    assert urlsplit(page.url).path == "/wp-admin/profile.php"  # not sent to wp-login.php
    assert "Alice" in page.inner_text("#wp-admin-bar-my-account")
    shots("wordpress-profile-logged-in")
    external_id = bridge_external_id(page, space.bridge_url)
    assert _php(f"echo get_user_meta({int(me['id'])}, {_php_str(META)}, true);") == external_id
    assert _users_with_meta() == [me["id"]]  # one WordPress user for the member, found by that id
    return me["id"]


# -- the tests ----------------------------------------------------------------------------------------
def test_wp_discourse_client_logs_a_member_in_through_the_bridge(wp_discourse_client, page, shots):
    space = wp_discourse_client
    seen = navigations(page)
    page.goto(space.wp_url + "/wp-login.php")
    # client.php prints the link through wp_kses_data, which keeps its href but drops its class
    link = page.locator('#loginform a[href*="discourse_sso=1"]')
    assert link.count() == 1, "wp-discourse's login link is not on the login form"
    shots("wordpress-login-form-with-wp-discourse-link")
    link.click()
    wikimedia_login(page, shots, space.wp_url)
    shots("wordpress-after-login")
    assert any(u.startswith(space.bridge_url + "/session/sso_provider?sso=") for u in seen)
    assert any(u.startswith(space.bridge_url + "/sso/wordpress/blog?sso=") for u in seen)
    assert "discourse_sso_error" not in page.url
    assert_logged_in_by_external_id(page, space, shots)


def test_wp_discourse_client_logs_in_with_a_tilde_in_the_return_url(wp_discourse_client, page, shots):
    space = wp_discourse_client
    seen = navigations(page)
    back_to = space.wp_url + TILDE_PATH
    # wp-discourse's login URL (lib/sso-client/sso-client-base.php get_discourse_sso_url)
    page.goto(space.wp_url + "/?" + urlencode({"discourse_sso": 1, "redirect_to": back_to}))
    wikimedia_login(page, shots, space.wp_url)
    shots("wordpress-after-login-tilde")
    assert "discourse_sso_error" not in page.url
    assert page.url == back_to, "wp-discourse did not take the member back to the return URL"
    sso = answer_payload(seen, space.wp_url)
    fields = parse_qsl(base64.b64decode(sso).decode())
    assert dict(fields)["return_sso_url"] == back_to
    assert "+" not in sso
    # the same fields as the bridge encoded them before (Python's urlencode: '~' raw) did hold a
    # '+': this is the member who could not log in then
    assert "+" in base64.b64encode(urlencode(fields).encode()).decode()
    assert_logged_in_by_external_id(page, space, shots)


def test_wp_discourse_client_request_with_a_wrong_secret_is_refused(wp_discourse_client, page, shots):
    space = wp_discourse_client
    seen = navigations(page)
    _options("discourse_sso_common", {"sso-secret": "not-the-blogs-connect-secret-000"})
    try:
        resp = page.goto(space.wp_url + "/?" + urlencode({"discourse_sso": 1, "redirect_to": space.wp_url + "/"}))
        shots("bridge-refuses-wrong-secret")
        assert resp.status == 400 and page.url.startswith(space.bridge_url + "/session/sso_provider?")
        assert page.locator("[data-reason=sso_invalid]").count() == 1
        assert "could not be verified" in page.inner_text("body")
        assert "127.0.0.1" in page.inner_text("body")  # the blog's host, as the request names it
        assert not any("UserLogin" in u or "/sso/wordpress/" in u for u in seen), "went on despite the signature"
    finally:
        _options("discourse_sso_common", {"sso-secret": connect_secret(space)})
    assert wordpress_me(page, space.wp_url) is None
    assert bridge_external_id_or_none(page, space.bridge_url) is None


def bridge_external_id_or_none(page, bridge_url) -> str | None:
    r = page.request.get(bridge_url + "/whoami")
    return r.json()["account"]["sub"] if r.status == 200 else None


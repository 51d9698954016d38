"""Single log-out (sso/logout.py): GET /logout shows a confirmation page and changes nothing; its
button POSTs the session's CSRF token, which ends the bridge session in every browser, logs the
member out of the forum (the Discourse double) and of the real WordPress (the mu-plugin's signed
route), and redirects to an allow-listed `next`. A POST without the token changes nothing. The member's forum and blog sessions are opened here with a
stand-in DiscourseConnect provider (the test signs the answers), so these tests do not depend on
the bridge's own provider."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from bs4 import BeautifulSoup

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`

from doubles.discourse import DiscourseDouble  # noqa: E402
from wp_helpers import WpAdmin, answer, consumer_request, logged_in, sso_override  # noqa: E402

from bridge import config, i18n  # noqa: E402
from bridge.app import SESSION_COOKIE, create_app  # noqa: E402
from bridge.store import outbox_jobs  # noqa: E402
from sso.consumers import LOGOUT_TIMEOUT  # noqa: E402
from sso.consumers.discourse import LOGOUT_DISCOURSE  # noqa: E402
from sso.consumers.wordpress import LOGOUT_WORDPRESS  # noqa: E402
from tests.sso.conftest import PROFILES  # noqa: E402

FORUM_SECRET = "forum-connect-secret-0123"
WP_SECRET = "test-wp-connect-secret-logout-0123"
ALICE_SUB = "1001"


FORUM_PROFILES = PROFILES  # every Discourse release the double plays


@pytest.fixture(scope="module")
def forum(tmp_path_factory, forum_profile):
    with DiscourseDouble(api_key="test-api-key", state_dir=tmp_path_factory.mktemp("forum"),
                         profile=forum_profile) as double:
        double.enable_discourse_connect("http://127.0.0.1:9/stand-in-provider", FORUM_SECRET)
        yield double




def configure(bridge, *, forum=None, wp_url=None, wp_secret=WP_SECRET):
    double = bridge.double
    data = {"bridge": {"public_url": bridge.url, "secret_key": "test-secret-key-0123456789abcdef0123",
                       "log_format": "console"},
            "wikimedia": {"oauth_base_url": double.url, "client_id": double.client_id,
                          "client_secret": double.client_secret, "timeout_seconds": 10}}
    if forum:
        data["discourse"] = {"url": forum.url, "api_key": "test-api-key", "connect_secret": "connect-secret-123",
                             "webhook_secret": "webhook-secret-123"}
    if wp_url:
        data["wordpress"] = {"sites": [{"name": "blog", "url": wp_url, "username": "bridge", "password": "pw",
                                        "webhook_secret": "wp-webhook-secret", "connect_secret": wp_secret}]}
    bridge.settings = config.parse(data, "<test>")
    bridge.app = create_app(bridge.settings, bridge.engine)
    bridge.server.target.app = bridge.app
    return bridge


def bridge_login(browser, bridge, wm, username="Alice Member"):
    resp = browser.get(bridge.url + "/login", params={"next": "/whoami"}, timeout=30)
    wm.complete_login(browser, resp, username)
    assert browser.get(bridge.url + "/whoami", timeout=30).status_code == 200


def forum_login(browser, forum, external_id=ALICE_SUB, email="alice@example.org"):
    """Log in to the Discourse double as a DiscourseConnect provider would answer."""
    r = browser.get(forum.url + "/session/sso", params={"return_path": "/"}, allow_redirects=False, timeout=30)
    req = consumer_request(r.headers["Location"], FORUM_SECRET)
    url = answer(req["return_sso_url"], {"nonce": req["nonce"], "external_id": external_id, "email": email,
                                         "username": "Alice_Member"}, FORUM_SECRET)
    browser.get(url, timeout=30)
    assert forum_logged_in(browser, forum)


def forum_logged_in(browser, forum) -> bool:
    return "Logged in as" in browser.get(forum.url + "/", headers={"Accept": "text/html"}, timeout=30).text


def blog_login(browser, wp_url, external_id=ALICE_SUB, email="alice@example.org"):
    r = browser.get(f"{wp_url}/wp-login.php", params={"action": "space-bridge-login"}, allow_redirects=False, timeout=30)
    req = consumer_request(r.headers["Location"], WP_SECRET)
    browser.get(answer(req["return_sso_url"], {"nonce": req["nonce"], "external_id": external_id, "email": email,
                                               "username": "Alice Member"}, WP_SECRET), allow_redirects=False, timeout=30)
    assert logged_in(browser, wp_url)


def confirmation_form(browser, bridge, **params) -> tuple[requests.Response, dict]:
    """GET /logout: the confirmation page and the fields its one button submits."""
    page = browser.get(bridge.url + "/logout", params=params, allow_redirects=False, timeout=30)
    assert page.status_code == 200, page.status_code
    forms = BeautifulSoup(page.text, "html.parser").find_all("form")
    assert len(forms) == 1 and forms[0]["method"] == "post" and forms[0]["action"] == "/logout"
    assert len(forms[0].find_all("button")) == 1
    return page, {i["name"]: i["value"] for i in forms[0].find_all("input")}


def log_out(browser, bridge, **params) -> requests.Response:
    """What a member does: open /logout, press the button (the redirect is not followed)."""
    _, fields = confirmation_form(browser, bridge, **params)
    return browser.post(bridge.url + "/logout", data=fields, allow_redirects=False, timeout=30)


def whoami_status(browser, bridge) -> int:
    return browser.get(bridge.url + "/whoami", timeout=30).status_code


def queued(engine) -> list[tuple[str, dict]]:
    with engine.connect() as conn:
        return [(k, p) for k, p in conn.execute(sa.select(outbox_jobs.c.kind, outbox_jobs.c.payload)).all()]


def test_logout_without_a_session_only_redirects(bridge, browser, forum):
    configure(bridge, forum=forum)
    r = browser.get(bridge.url + "/logout", params={"next": forum.url + "/latest"}, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"] == forum.url + "/latest"


def test_next_outside_the_allow_list_goes_to_the_default_page(bridge, wm, browser, forum):
    configure(bridge, forum=forum)
    bridge_login(browser, bridge, wm)
    _, fields = confirmation_form(browser, bridge, next="https://evil.example/")
    assert "next" not in fields
    r = browser.post(bridge.url + "/logout", data={**fields, "next": "https://evil.example/"}, allow_redirects=False,
                     timeout=30)
    assert r.status_code == 303 and r.headers["Location"] == forum.url + "/"


def test_logout_ends_the_bridge_and_forum_sessions(bridge, wm, browser, forum):
    configure(bridge, forum=forum)
    bridge_login(browser, bridge, wm)
    forum_login(browser, forum)
    r = log_out(browser, bridge, next="/whoami")
    assert r.status_code == 303 and r.headers["Location"] == "/whoami"
    assert whoami_status(browser, bridge) == 401
    assert not forum_logged_in(browser, forum)


def test_get_shows_a_confirmation_page_and_logs_nobody_out(bridge, wm, browser, forum):
    configure(bridge, forum=forum)
    bridge_login(browser, bridge, wm)
    forum_login(browser, forum)
    page, fields = confirmation_form(browser, bridge, next="/whoami")
    assert fields["next"] == "/whoami" and len(fields["csrf_token"]) >= 32
    assert i18n.message("en", "spacebridge-logout-button") in page.text and "Alice Member" in page.text
    assert page.headers["Cache-Control"] == "no-store" and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert whoami_status(browser, bridge) == 200 and forum_logged_in(browser, forum)


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789abcdef0123456789", "another browser's"])
def test_post_without_this_browsers_token_is_refused_and_logs_nobody_out(bridge, wm, browser, forum, token):
    configure(bridge, forum=forum)
    bridge_login(browser, bridge, wm)
    forum_login(browser, forum)
    if token == "another browser's":  # a token the attacker got from their own confirmation page
        with requests.Session() as attacker:
            bridge_login(attacker, bridge, wm)
            token = confirmation_form(attacker, bridge)[1]["csrf_token"]
    confirmation_form(browser, bridge)  # the member's own page gave this browser a token too
    data = {"next": "/whoami"} | ({} if token is None else {"csrf_token": token})
    r = browser.post(bridge.url + "/logout", data=data, allow_redirects=False, timeout=30)
    assert r.status_code == 403
    assert i18n.message("en", "spacebridge-logout-refused-heading") in r.text
    assert 'href="/logout?next=%2Fwhoami"' in r.text  # back to the confirmation page
    assert whoami_status(browser, bridge) == 200 and forum_logged_in(browser, forum)
    assert queued(bridge.engine) == []


def test_log_out_ends_the_members_sessions_in_every_browser(bridge, wm, browser):
    """A copied cookie, and a login in another browser, stop working once the member logs out."""
    configure(bridge)
    bridge_login(browser, bridge, wm)
    with requests.Session() as thief, requests.Session() as phone:
        thief.cookies.set(SESSION_COOKIE, browser.cookies.get(SESSION_COOKIE), domain="127.0.0.1")
        bridge_login(phone, bridge, wm)
        wm.log_out(phone)
        assert whoami_status(thief, bridge) == 200 and whoami_status(phone, bridge) == 200
        assert log_out(browser, bridge).status_code == 303
        assert whoami_status(browser, bridge) == 401
        assert whoami_status(thief, bridge) == 401, "a copied cookie outlived the log-out"
        assert whoami_status(phone, bridge) == 401
        bridge_login(phone, bridge, wm)  # logging in again works, and only the new login counts
        assert whoami_status(phone, bridge) == 200 and whoami_status(thief, bridge) == 401


@pytest.mark.parametrize("lang, direction, button", [("en", "ltr", "Log out"), ("es", "ltr", "Cerrar sesión"),
                                                     ("ar", "rtl", "تسجيل الخروج")])
def test_confirmation_page_in_the_members_language(bridge, wm, browser, lang, direction, button):
    configure(bridge)
    bridge_login(browser, bridge, wm)
    page, _ = confirmation_form(browser, bridge, uselang=lang)
    assert f'<html lang="{lang}" dir="{direction}">' in page.text and page.headers["Content-Language"] == lang
    assert f">{button}</button>" in page.text
    browser.headers["Accept-Language"] = f"{lang};q=0.9"
    assert f'<html lang="{lang}"' in confirmation_form(browser, bridge)[0].text


def test_forum_down_still_logs_out_and_queues_a_retry(bridge, wm, browser, engine):
    down = type("Down", (), {"url": "http://127.0.0.1:9"})()
    configure(bridge, forum=down)
    bridge_login(browser, bridge, wm)
    started = time.monotonic()
    r = log_out(browser, bridge)
    assert r.status_code == 303 and time.monotonic() - started < LOGOUT_TIMEOUT * 3
    assert whoami_status(browser, bridge) == 401
    assert (LOGOUT_DISCOURSE, {"sub": ALICE_SUB}) in queued(engine)


@pytest.mark.stack
def test_logout_ends_the_wordpress_sessions_too(bridge, wm, browser, forum, stack):
    wp_url = stack["wordpress"]["url"]
    admin = WpAdmin(stack)
    with sso_override({"SPACE_BRIDGE_SSO_URL": "http://127.0.0.1:9/sso/wordpress/blog", "SPACE_BRIDGE_SSO_SECRET": WP_SECRET}):
        try:
            configure(bridge, forum=forum, wp_url=wp_url)
            bridge_login(browser, bridge, wm)
            forum_login(browser, forum)
            blog_login(browser, wp_url)
            other_browser = requests.Session()
            blog_login(other_browser, wp_url)
            r = log_out(browser, bridge, next=wp_url + "/")
            assert r.status_code == 303 and r.headers["Location"] == wp_url + "/"
            assert not forum_logged_in(browser, forum)
            assert not logged_in(browser, wp_url)
            assert not logged_in(other_browser, wp_url)  # every session of the member
        finally:
            u = admin.by_email("alice@example.org")
            if u:
                admin.delete(u["id"])


@pytest.mark.stack
def test_wordpress_refusing_the_signature_queues_a_retry(bridge, wm, browser, stack, engine):
    with sso_override({"SPACE_BRIDGE_SSO_URL": "http://127.0.0.1:9/x", "SPACE_BRIDGE_SSO_SECRET": WP_SECRET}):
        configure(bridge, wp_url=stack["wordpress"]["url"], wp_secret="a-different-secret-0123456")
        bridge_login(browser, bridge, wm)
        r = log_out(browser, bridge)
        assert r.status_code == 303
    assert (LOGOUT_WORDPRESS, {"site": "blog", "sub": ALICE_SUB}) in queued(engine)

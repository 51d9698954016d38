"""Single log-out (sso/logout.py): GET /logout ends the bridge session, logs the member out of
the forum (the Discourse double) and of the real WordPress (the mu-plugin's signed route), and
redirects to an allow-listed `next`. The member's forum and blog sessions are opened here with a
stand-in DiscourseConnect provider (the test signs the answers), so these tests do not depend on
the bridge's own provider."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`

from doubles.discourse import DiscourseDouble  # noqa: E402
from wp_helpers import WpAdmin, answer, consumer_request, logged_in, sso_override  # noqa: E402

from bridge import config  # noqa: E402
from bridge.app import create_app  # noqa: E402
from bridge.store import outbox_jobs  # noqa: E402
from sso import logout as logout_mod  # noqa: E402

FORUM_SECRET = "forum-connect-secret-0123"
WP_SECRET = "test-wp-connect-secret-logout-0123"
ALICE_SUB = "1001"


@pytest.fixture(scope="module")
def forum(tmp_path_factory):
    with DiscourseDouble(api_key="test-api-key", state_dir=tmp_path_factory.mktemp("forum")) as double:
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
    r = browser.get(bridge.url + "/logout", params={"next": "https://evil.example/"}, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"] == forum.url + "/"


def test_logout_ends_the_bridge_and_forum_sessions(bridge, wm, browser, forum):
    configure(bridge, forum=forum)
    bridge_login(browser, bridge, wm)
    forum_login(browser, forum)
    r = browser.get(bridge.url + "/logout", params={"next": "/whoami"}, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"] == "/whoami"
    assert browser.get(bridge.url + "/whoami", timeout=30).status_code == 401
    assert not forum_logged_in(browser, forum)


def test_forum_down_still_logs_out_and_queues_a_retry(bridge, wm, browser, engine):
    down = type("Down", (), {"url": "http://127.0.0.1:9"})()
    configure(bridge, forum=down)
    bridge_login(browser, bridge, wm)
    started = time.monotonic()
    r = browser.get(bridge.url + "/logout", allow_redirects=False, timeout=30)
    assert r.status_code == 303 and time.monotonic() - started < logout_mod.LOGOUT_TIMEOUT * 3
    assert browser.get(bridge.url + "/whoami", timeout=30).status_code == 401
    assert (logout_mod.LOGOUT_DISCOURSE, {"sub": ALICE_SUB}) in queued(engine)


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
            r = browser.get(bridge.url + "/logout", params={"next": wp_url + "/"}, allow_redirects=False, timeout=30)
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
        r = browser.get(bridge.url + "/logout", allow_redirects=False, timeout=30)
        assert r.status_code == 303
    assert (logout_mod.LOGOUT_WORDPRESS, {"site": "blog", "sub": ALICE_SUB}) in queued(engine)

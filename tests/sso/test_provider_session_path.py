"""Discourse's own provider path, /session/sso_provider (sso/session_path.py), over real HTTP.

A blog running wp-discourse's DiscourseConnect client sends its members there with nothing in
the URL naming the blog; the bridge sends them on, sso and sig unchanged, to the route of the
blog whose secret signed the request for a return URL on that blog's own origin, and that route
does every check again. Anything else is the refusal page, never a redirect.

Each test runs on SQLite and on PostgreSQL (the `engine` fixture).
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa

from bridge import config
from bridge.app import create_app
from bridge.store import sso_nonces
from sso import discourse_connect
from tests.sso.conftest import settings_data

FORUM = "http://127.0.0.1:9"  # never contacted here
FORUM_SECRET = "connect-secret-123"  # settings_data's discourse.connect_secret
NEWS = ("news", "http://127.0.0.1:8081", "news-connect-secret-0123")
EVENTS = ("events", "http://127.0.0.1:8083", "events-connect-secret-0123")


@pytest.fixture
def bridge(bridge_server, wm, engine):
    data = settings_data(bridge_server.url, wm, discourse_url=FORUM)
    data["wordpress"] = {"sites": [
        {"name": name, "url": url, "username": "bridge", "password": "pw", "webhook_secret": "wp-webhook-secret",
         "connect_secret": secret} for name, url, secret in (NEWS, EVENTS)]}
    bridge_server.target.app = create_app(config.parse(data, "<test>"), engine)
    yield bridge_server
    bridge_server.target.app = None


def logged_in(browser, bridge, wm, username="Alice Member") -> str:
    resp = wm.complete_login(browser, browser.get(bridge.url + "/login", params={"next": "/whoami"}, timeout=30),
                             username)
    assert resp.url == bridge.url + "/whoami", resp.url
    return resp.json()["account"]["sub"]


def request_fields(return_sso_url: str, nonce: str = "wpdc-nonce-1") -> dict:
    return {"nonce": nonce, "return_sso_url": return_sso_url}


def at_discourse_path(bridge, fields: dict, secret: str) -> str:
    """The URL wp-discourse's client sends the browser to (lib/sso-client/query-redirect.php):
    standard Base64 of the query, which may hold '+', signed with the site's secret."""
    sso = base64.b64encode(urlencode(fields).encode()).decode()
    return f"{bridge.url}/session/sso_provider?" + urlencode({"sso": sso, "sig": discourse_connect.sign(sso, secret)})


def assert_refusal(resp, reason):
    assert resp.status_code == 400, resp.text[:300]
    assert "Location" not in resp.headers
    assert f'data-reason="{reason}"' in resp.text


def nonces(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sso_nonces)).scalar()


@pytest.mark.parametrize("site", [NEWS, EVENTS], ids=lambda s: s[0])
def test_the_path_leads_to_the_blog_that_signed_the_request_and_its_answer(bridge, wm, browser, site):
    name, url, secret = site
    sub = logged_in(browser, bridge, wm)
    start = at_discourse_path(bridge, request_fields(url + "/?redirect_to=%2F~alice%2F", "wpdc-nonce-10"), secret)
    assert "+" in parse_qs(urlsplit(start).query)["sso"][0]  # PHP's base64_encode: it may, and here does
    hop = browser.get(start, allow_redirects=False, timeout=30)
    assert hop.status_code == 302 and hop.headers["Cache-Control"] == "no-store"
    target = urlsplit(hop.headers["Location"])
    assert target.path == f"/sso/wordpress/{name}" and target.netloc in ("", urlsplit(bridge.url).netloc)
    asked, sent = parse_qs(urlsplit(start).query), parse_qs(target.query)
    assert sent == asked  # sso and sig unchanged

    answer = browser.get(bridge.url + f"/sso/wordpress/{name}?{target.query}", allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(url + "/?redirect_to=%2F~alice%2F&sso=")
    q = parse_qs(urlsplit(location).query)
    assert discourse_connect.verify(q["sso"][0], q["sig"][0], secret)  # the blog's own secret
    fields = discourse_connect.read_payload(q["sso"][0])
    # what wp-discourse's client reads (lib/sso-client/client.php): the identity is the external id
    assert fields["external_id"] == sub and fields["nonce"] == "wpdc-nonce-10"
    assert fields["email"] == "alice@example.org" and fields["username"] == "Alice_Member" and fields["name"]
    assert fields["return_sso_url"] == url + "/?redirect_to=%2F~alice%2F"
    assert "+" not in q["sso"][0]  # wp-discourse url-decodes the payload once more before checking sig


def test_a_member_not_logged_in_comes_back_to_the_blog_after_the_wikimedia_login(bridge, wm, browser):
    name, url, secret = NEWS
    resp = browser.get(at_discourse_path(bridge, request_fields(url + "/"), secret), timeout=30)
    assert wm.is_login_page(resp)
    resp = wm.log_in(browser, resp, "Alice Member")
    resp = browser.post(resp.url, data={"accept": "Allow"}, allow_redirects=False, timeout=30)  # consent
    while not resp.headers["Location"].startswith(url):  # the bridge's callback, then the blog's route
        resp = browser.get(absolute(bridge, resp.headers["Location"]), allow_redirects=False, timeout=30)
    assert urlsplit(resp.url).path == f"/sso/wordpress/{name}"
    q = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert discourse_connect.verify(q["sso"][0], q["sig"][0], secret)


def absolute(bridge, location: str) -> str:
    return bridge.url + location if location.startswith("/") else location


def test_the_nonce_stays_single_use_through_the_path(bridge, wm, browser, engine):
    name, url, secret = NEWS
    logged_in(browser, bridge, wm)
    start = at_discourse_path(bridge, request_fields(url + "/", nonce="only-once"), secret)
    first = browser.get(start, timeout=30, allow_redirects=False)
    assert browser.get(absolute(bridge, first.headers["Location"]), allow_redirects=False,
                       timeout=30).status_code == 302
    again = browser.get(start, timeout=30, allow_redirects=False)
    assert_refusal(browser.get(absolute(bridge, again.headers["Location"]), allow_redirects=False, timeout=30),
                   "sso_replayed")


def test_a_request_no_blog_signed_is_refused_where_it_arrives(bridge, wm, browser, engine):
    logged_in(browser, bridge, wm)
    resp = browser.get(at_discourse_path(bridge, request_fields(NEWS[1] + "/"), "not-the-news-secret-000"),
                       allow_redirects=False, timeout=30)
    assert_refusal(resp, "sso_invalid")
    assert "127.0.0.1" in resp.text and "could not be verified" in resp.text
    # the forum's secret is no blog's: the forum has its own route, /sso/discourse
    assert_refusal(browser.get(at_discourse_path(bridge, request_fields(FORUM + "/session/sso_login"), FORUM_SECRET),
                               allow_redirects=False, timeout=30), "sso_invalid")
    for query in ("", "?sso=abc", "?sig=" + "0" * 64, "?sso=%25%25&sig=" + "0" * 64):
        assert_refusal(browser.get(bridge.url + "/session/sso_provider" + query, allow_redirects=False, timeout=30),
                       "sso_invalid")
    assert nonces(engine) == 0


def test_a_signed_request_for_another_origin_is_refused_not_redirected(bridge, wm, browser, engine):
    logged_in(browser, bridge, wm)
    name, url, secret = NEWS
    for elsewhere in ("https://evil.example/", EVENTS[1] + "/", "http://127.0.0.1:1/", "javascript:alert(1)",
                      "http://user@127.0.0.1:8081/"):
        resp = browser.get(at_discourse_path(bridge, request_fields(elsewhere), secret), allow_redirects=False,
                           timeout=30)
        assert_refusal(resp, "sso_return_url")
    assert nonces(engine) == 0


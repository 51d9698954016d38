"""Logging in with a Wikimedia account: the bridge over real HTTP, against the Wikimedia double.

Each test runs on SQLite and on PostgreSQL (the `engine` fixture under `bridge`).
"""

from __future__ import annotations

import copy
import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from bridge import i18n
from bridge.app import SESSION_COOKIE
from bridge.store import accounts as accounts_table
from sso import accounts, wikimedia


# -- helpers ----------------------------------------------------------------------------------------
def count_accounts(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(accounts_table)).scalar()


def whoami(browser, bridge):
    return browser.get(bridge.url + "/whoami", timeout=30)


def login(browser, bridge, wm, username, *, next=None, allow=True, headers=None, uselang=None):  # noqa: A002
    params = {}
    if next is not None:
        params["next"] = next
    if uselang:
        params["uselang"] = uselang
    resp = browser.get(bridge.url + "/login", params=params, headers=headers, timeout=30)
    return wm.complete_login(browser, resp, username, allow=allow)


def follow(browser, resp, stop: str):
    """Follow redirects by hand until one points at `stop` (returned, not followed) or a page."""
    while resp.is_redirect:
        location = resp.headers["Location"]
        if location.startswith(stop):
            return resp
        resp = browser.get(location, allow_redirects=False, timeout=30)
    return resp


def login_until_callback(browser, bridge, wm, username, **params) -> str:
    """Run a login up to the moment Wikimedia sends the browser back; return that callback URL."""
    callback = bridge.url + "/oauth/callback"
    resp = follow(browser, browser.get(bridge.url + "/login", params=params, allow_redirects=False, timeout=30),
                  callback)
    if wm.is_login_page(resp):
        resp = browser.post(resp.url, data={"wpName": username, "wpPassword": "wikimedia-double"},
                            allow_redirects=False, timeout=30)
        resp = follow(browser, resp, callback)
    if wm.is_consent_page(resp):
        resp = follow(browser, browser.post(resp.url, data={"accept": "Allow"}, allow_redirects=False, timeout=30),
                      callback)
    assert resp.is_redirect and resp.headers["Location"].startswith(callback), resp.url
    return resp.headers["Location"]


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode({k: v for k, v in query.items() if v is not None})))


def forget_bridge_session(browser):
    for cookie in list(browser.cookies):
        if cookie.name == SESSION_COOKIE:
            browser.cookies.clear(cookie.domain, cookie.path, cookie.name)


def assert_refused(resp, bridge, reason: str, status: int, lang: str = "en", *params):
    assert resp.status_code == status, resp.text[:500]
    assert urlsplit(resp.url).path == "/login/refused"
    assert f'data-reason="{reason}"' in resp.text
    assert f'lang="{lang}"' in resp.text and f'dir="{i18n.direction(lang)}"' in resp.text
    key = "spacebridge-refusal-" + reason.replace("_", "-")
    if params or reason not in ("email_missing", "email_unconfirmed", "profile_incomplete"):
        expected = i18n.message(lang, key, *params)
        assert _html_escape(expected) in resp.text, expected
    assert "Traceback" not in resp.text


def _html_escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def assert_nothing_created(browser, bridge):
    assert count_accounts(bridge.engine) == 0
    assert whoami(browser, bridge).status_code == 401


# -- the happy path ---------------------------------------------------------------------------------
def test_round_trip_creates_the_account_and_the_session(bridge, wm, browser):
    resp = login(browser, bridge, wm, "Alice Member", next="/whoami")
    assert resp.status_code == 200 and resp.url == bridge.url + "/whoami"
    me = resp.json()["account"]
    assert resp.json()["logged_in"] is True
    assert (me["sub"], me["username"], me["email_confirmed"], me["editcount"], me["blocked"]) == (
        "1001", "Alice Member", True, 1500, False)
    assert me["registered"] == "2015-03-12T10:45:00Z" and me["groups"] == ["*", "user", "autoconfirmed"]
    assert me["platforms"] == []
    # /whoami never tells the private part of the profile (a script on the bridge's host could read it)
    assert "alice@example.org" not in resp.text and "Alice Example" not in resp.text
    assert "email" not in me and "realname" not in me
    stored = accounts.get(bridge.engine, 1001)
    assert stored.username == "Alice Member" and stored.last_login_at is not None
    assert (stored.email, stored.realname) == ("alice@example.org", "Alice Example")
    assert count_accounts(bridge.engine) == 1

    # the session cookie: signed, HttpOnly, SameSite=Lax (not Secure on http)
    cookies = [h for r in resp.history for h in r.raw.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE + "=")]
    assert cookies and all("HttpOnly" in c and "SameSite=Lax" in c and "Secure" not in c for c in cookies)


def test_authorization_request_uses_pkce_state_and_the_grants(bridge, wm, browser):
    resp = browser.get(bridge.url + "/login", allow_redirects=False, timeout=30)
    assert resp.status_code == 302
    target = urlsplit(resp.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == wm.url + "/w/rest.php/oauth2/authorize"
    q = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert q["response_type"] == "code" and q["client_id"] == wm.client_id
    assert q["redirect_uri"] == bridge.url + "/oauth/callback"
    assert q["scope"] == "mwoauth-authonlyprivate"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) >= 43
    assert len(q["state"]) >= 20

    wm.complete_login(browser, browser.get(resp.headers["Location"], timeout=30), "Alice Member")
    request = wm.token_requests()[-1]
    assert request["user_agent"].startswith("space-bridge/") and request["basic_auth"] is False
    form = request["form"]
    assert form["grant_type"] == "authorization_code" and form["client_id"] == wm.client_id
    assert form["redirect_uri"] == bridge.url + "/oauth/callback" and len(form["code_verifier"]) >= 43


def test_second_login_does_not_ask_for_consent_again_and_refreshes_the_account(bridge, wm, browser):
    login(browser, bridge, wm, "Alice Member")
    assert wm.approvals() == [{"sub": 1001, "client_id": wm.client_id, "grants": ["mwoauth-authonlyprivate"]}]
    wm.set_user("Alice Member", editcount=1600, groups=["*", "user", "autoconfirmed", "sysop"])
    forget_bridge_session(browser)
    assert whoami(browser, bridge).status_code == 401

    resp = browser.get(bridge.url + "/login", params={"next": "/whoami"}, timeout=30)
    assert resp.url == bridge.url + "/whoami", "no login page, no consent page the second time"
    assert not any(wm.is_consent_page(r) and r.status_code == 200 for r in resp.history)
    account = resp.json()["account"]
    assert account["editcount"] == 1600 and "sysop" in account["groups"]
    assert count_accounts(bridge.engine) == 1


def test_already_logged_in_goes_straight_to_next(bridge, wm, browser):
    login(browser, bridge, wm, "Alice Member")
    resp = browser.get(bridge.url + "/login", params={"next": "/whoami?x=1"}, allow_redirects=False, timeout=30)
    assert resp.status_code == 302 and resp.headers["Location"] == "/whoami?x=1"


@pytest.mark.parametrize("username, sub", [("Ziko van Dijk", "1006"), ("Женя", "1007"), ("Sysop Sam", "1005"),
                                           ("Old Timer", "1009")])
def test_usernames_with_spaces_non_ascii_groups_and_no_registration_date(bridge, wm, browser, username, sub):
    me = login(browser, bridge, wm, username, next="/whoami").json()["account"]
    assert (me["sub"], me["username"]) == (sub, username)
    assert accounts.get(bridge.engine, sub).username == username
    if username == "Sysop Sam":
        assert {"sysop", "bureaucrat"} <= set(me["groups"])
    if username == "Old Timer":
        assert me["registered"] is None


def test_whoami_without_a_session_is_401(bridge, browser):
    resp = whoami(browser, bridge)
    assert resp.status_code == 401 and resp.json()["logged_in"] is False
    assert resp.json()["login_url"] == "/login"


# -- where the browser goes afterwards ----------------------------------------------------------------
def test_next_on_a_configured_host_is_honoured(bridge, wm, browser):
    # "localhost" reaches the same test server as 127.0.0.1 but is another host: the forum here
    forum = bridge.url.replace("127.0.0.1", "localhost")
    bridge.configure(discourse_url=forum)
    resp = login(browser, bridge, wm, "Alice Member", next=forum + "/session/sso_login?sso=abc&sig=def")
    assert resp.url == forum + "/session/sso_login?sso=abc&sig=def"


@pytest.mark.parametrize("evil", ["https://evil.example/steal", "//evil.example/x", "/\\evil.example",
                                  "javascript:alert(1)", "http://user@127.0.0.1.evil.example/",
                                  "ftp://127.0.0.1/x", "whoami"])
def test_next_off_site_is_refused_and_the_default_used(bridge, wm, browser, evil):
    resp = login(browser, bridge, wm, "Alice Member", next=evil)
    assert resp.url == bridge.url + "/whoami"  # no forum or blog configured: the bridge's own page
    assert resp.json()["logged_in"] is True


def test_default_next_is_the_forum(bridge, wm, browser):
    forum = bridge.url.replace("127.0.0.1", "localhost")
    bridge.configure(discourse_url=forum)
    resp = login(browser, bridge, wm, "Alice Member")
    assert resp.url == forum + "/"


def test_safe_next_rules(bridge):
    settings = bridge.configure(discourse_url="https://discuss.example.org",
                                wordpress_urls=("https://blog.example.org", "http://localhost:8081")).settings
    ok = ["/", "/sso/discourse?sso=a&sig=b", "https://discuss.example.org/session/sso_login?x=1",
          "https://discuss.example.org:443/", "https://blog.example.org/wp-login.php", "http://localhost:8081/x",
          bridge.url + "/whoami"]
    bad = [None, "", "//discuss.example.org/", "http://discuss.example.org/", "https://discuss.example.org:8443/",
           "https://evil.example.org/", "https://discuss.example.org@evil.example/", "/\\evil", "/a\nb",
           "data:text/html,x", "http://localhost:8082/", "http://discuss.example.org:443/",
           "/" + "x" * wikimedia.MAX_NEXT_LENGTH]
    for url in ok:
        assert wikimedia.safe_next(url, settings) == url, url
    for url in bad:
        assert wikimedia.safe_next(url, settings) is None, url


# -- refusals by the policy ---------------------------------------------------------------------------
def test_blocked_member_is_refused_with_a_clear_page(bridge, wm, browser):
    resp = login(browser, bridge, wm, "Blocked Bob")
    assert_refused(resp, bridge, "blocked", 403)
    assert "Log in again" not in resp.text  # retrying cannot help while blocked
    assert_nothing_created(browser, bridge)


def test_hidden_user_is_refused_as_blocked(bridge, wm, browser):
    assert_refused(login(browser, bridge, wm, "Hidden Hank"), bridge, "blocked", 403)
    assert_nothing_created(browser, bridge)


def test_unconfirmed_email_is_refused_when_required(bridge, wm, browser):
    resp = login(browser, bridge, wm, "Unconfirmed Uma")
    assert_refused(resp, bridge, "email_unconfirmed", 403)
    host = urlsplit(wm.url).netloc
    assert i18n.message("en", "spacebridge-refusal-email-unconfirmed-help", host) in resp.text
    assert f'href="{wm.url}/wiki/Special:ConfirmEmail"' in resp.text
    assert_nothing_created(browser, bridge)


def test_unconfirmed_email_is_let_in_and_recorded_when_not_required(bridge, wm, browser):
    bridge.configure(policy={"require_confirmed_email": False})
    me = login(browser, bridge, wm, "Unconfirmed Uma", next="/whoami").json()["account"]
    assert me["username"] == "Unconfirmed Uma" and me["email_confirmed"] is False
    assert accounts.get(bridge.engine, 1003).email_confirmed is False


def test_member_without_email_is_refused(bridge, wm, browser):
    bridge.configure(policy={"require_confirmed_email": False})
    resp = login(browser, bridge, wm, "No Mail Nora")
    assert_refused(resp, bridge, "email_missing", 403)
    assert f'href="{wm.url}/wiki/Special:ChangeEmail"' in resp.text
    assert_nothing_created(browser, bridge)


def test_low_edit_count_is_refused_when_configured(bridge, wm, browser):
    bridge.configure(policy={"min_edit_count": 50})
    resp = login(browser, bridge, wm, "Newbie Nell")
    host = urlsplit(wm.url).netloc
    assert_refused(resp, bridge, "edit_count", 403, "en", 50, 3, host)
    assert f"at least 50 edits on {host}; yours has 3 edits there so far" in resp.text
    assert i18n.message("en", "spacebridge-refusal-edit-count-help", 50, host) in resp.text
    assert_nothing_created(browser, bridge)


def test_young_account_is_refused_when_configured(bridge, wm, browser):
    bridge.configure(policy={"min_account_age_days": 30})
    resp = login(browser, bridge, wm, "Newbie Nell")
    assert_refused(resp, bridge, "account_age", 403, "en", 30, 1)
    assert_nothing_created(browser, bridge)


def test_thresholds_let_established_members_in_and_the_allow_list_lets_newbies_in(bridge, wm, browser):
    bridge.configure(policy={"min_edit_count": 50, "min_account_age_days": 30, "allow_users": ["Newbie_Nell"]})
    assert login(browser, bridge, wm, "Alice Member", next="/whoami").json()["logged_in"] is True
    forget_bridge_session(browser)
    wm.log_out(browser)
    assert login(browser, bridge, wm, "Newbie Nell", next="/whoami").json()["account"]["username"] == "Newbie Nell"
    assert count_accounts(bridge.engine) == 2


def test_deny_list_is_refused(bridge, wm, browser):
    bridge.configure(policy={"deny_users": ["Sysop_Sam"], "allow_users": ["Sysop Sam"]})
    resp = login(browser, bridge, wm, "Sysop Sam")
    assert_refused(resp, bridge, "deny_list", 403, "en", "Sysop Sam")
    assert_nothing_created(browser, bridge)


def test_a_refused_callback_ends_an_earlier_session(bridge, wm, browser):
    first = login_until_callback(browser, bridge, wm, "Alice Member")   # a login left open in one tab
    second = login_until_callback(browser, bridge, wm, "Alice Member")  # another one, completed
    assert browser.get(second, timeout=30).json()["logged_in"] is True
    wm.block("Alice Member")
    assert_refused(browser.get(first, timeout=30), bridge, "blocked", 403)
    assert whoami(browser, bridge).status_code == 401


# -- refusals of the OAuth exchange -------------------------------------------------------------------
def test_state_mismatch_is_refused(bridge, wm, browser):
    callback = login_until_callback(browser, bridge, wm, "Alice Member")
    resp = browser.get(with_query(callback, state="forged-state"), timeout=30)
    assert_refused(resp, bridge, "state", 400)
    assert_nothing_created(browser, bridge)


def test_a_callback_from_another_browser_is_refused(bridge, wm, browser):
    """Login CSRF: an attacker's own code and state, opened in the victim's browser."""
    import requests

    with requests.Session() as attacker:
        callback = login_until_callback(attacker, bridge, wm, "Blocked Bob")
    resp = browser.get(callback, timeout=30)
    assert_refused(resp, bridge, "state", 400)
    assert_nothing_created(browser, bridge)


def test_callback_without_state_or_code_is_refused(bridge, wm, browser):
    assert_refused(browser.get(bridge.url + "/oauth/callback", timeout=30), bridge, "state", 400)
    callback = login_until_callback(browser, bridge, wm, "Alice Member")
    assert_refused(browser.get(with_query(callback, code=None), timeout=30), bridge, "code", 400)
    assert_nothing_created(browser, bridge)


def test_reused_authorization_code_is_refused_by_wikimedia(bridge, wm, browser):
    """The callback sent twice (reload, double submit): the second exchange of the code fails."""
    callback = login_until_callback(browser, bridge, wm, "Alice Member")
    before = copy.deepcopy(browser.cookies)  # the browser's cookies before the first callback arrived
    assert browser.get(callback, timeout=30).status_code == 200

    browser.cookies = before
    resp = browser.get(callback, timeout=30)
    assert_refused(resp, bridge, "code", 400)
    assert whoami(browser, bridge).status_code == 401
    assert count_accounts(bridge.engine) == 1  # from the first, successful, callback only


def test_expired_authorization_code_is_refused(bridge, wm, browser):
    callback = login_until_callback(browser, bridge, wm, "Alice Member")
    wm.expire_codes()
    assert_refused(browser.get(callback, timeout=30), bridge, "code", 400)
    assert_nothing_created(browser, bridge)


def test_cancel_on_the_consent_page_is_a_clear_page(bridge, wm, browser):
    resp = login(browser, bridge, wm, "Alice Member", allow=False)
    # Wikimedia (ClientApprovalDenyException) comes back with unauthorized_client and no state
    back = next(r for r in resp.history if r.url.startswith(bridge.url + "/oauth/callback"))
    query = parse_qs(urlsplit(back.url).query)
    assert query["error"] == ["unauthorized_client"] and "state" not in query
    assert_refused(resp, bridge, "cancelled", 403)
    assert "Log in again" in resp.text
    assert_nothing_created(browser, bridge)
    assert wm.approvals() == []


def test_access_denied_from_wikimedia_is_a_clear_page(bridge, wm, browser):
    resp = browser.get(bridge.url + "/login", allow_redirects=False, timeout=30)
    state = parse_qs(urlsplit(resp.headers["Location"]).query)["state"][0]
    resp = browser.get(bridge.url + "/oauth/callback", params={
        "error": "access_denied", "error_description": "The user denied the request", "state": state}, timeout=30)
    assert_refused(resp, bridge, "cancelled", 403)
    assert_nothing_created(browser, bridge)


def test_other_errors_from_wikimedia_name_the_error(bridge, wm, browser):
    resp = browser.get(bridge.url + "/oauth/callback", params={"error": "invalid_scope"}, timeout=30)
    assert_refused(resp, bridge, "upstream_error", 400, "en", "invalid_scope")


def test_wikimedia_unreachable_during_the_exchange_is_a_502_page(bridge, wm, browser):
    import socket

    callback = login_until_callback(browser, bridge, wm, "Alice Member")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    bridge.configure(oauth_base_url=dead, timeout_seconds=2)
    assert_refused(browser.get(callback, timeout=30), bridge, "unavailable", 502)
    assert_nothing_created(browser, bridge)


def test_wrong_client_secret_is_an_upstream_error(bridge, wm, browser):
    callback = login_until_callback(browser, bridge, wm, "Alice Member")
    bridge.configure(client_secret="not-the-secret")
    assert_refused(browser.get(callback, timeout=30), bridge, "upstream_error", 400, "en", "invalid_client")
    assert_nothing_created(browser, bridge)


# -- localisation ---------------------------------------------------------------------------------------
def test_blocked_refusal_in_arabic_is_right_to_left(bridge, wm, browser):
    resp = login(browser, bridge, wm, "Blocked Bob", uselang="ar")
    assert_refused(resp, bridge, "blocked", 403, "ar")
    assert '<html lang="ar" dir="rtl">' in resp.text
    assert "حسابك في ويكيميديا ممنوع" in resp.text
    assert resp.headers["Content-Language"] == "ar"


def test_accept_language_spanish_gives_spanish(bridge, wm, browser):
    browser.headers["Accept-Language"] = "es-ES,es;q=0.9,en;q=0.5"
    resp = login(browser, bridge, wm, "Blocked Bob")
    assert_refused(resp, bridge, "blocked", 403, "es")
    assert "Tu cuenta de Wikimedia está bloqueada" in resp.text


def test_uselang_wins_over_accept_language_and_the_page_switches_language(bridge, wm, browser):
    browser.headers["Accept-Language"] = "es"
    bridge.configure(policy={"min_edit_count": 50})
    resp = login(browser, bridge, wm, "Newbie Nell", uselang="ar")
    host = urlsplit(wm.url).netloc
    assert_refused(resp, bridge, "edit_count", 403, "ar", 50, 3, host)
    again = browser.get(bridge.url + "/login/refused", params={"uselang": "en"}, timeout=30)
    assert_refused(again, bridge, "edit_count", 403, "en", 50, 3, host)  # reloadable, in another language
    assert 'hreflang="es"' in again.text and 'lang="ar" dir="rtl"' in again.text  # links to the others


def test_refused_page_without_a_refusal(bridge, browser):
    assert_refused(browser.get(bridge.url + "/login/refused", timeout=30), bridge, "state", 400)


# -- the API for the DiscourseConnect side ----------------------------------------------------------------
def install_api_routes(app):
    @app.get("/test/needs-login")
    def needs_login():
        response = wikimedia.require_login()
        if response is not None:
            return response
        account = wikimedia.current_account()
        return {"username": account.username, "query": dict(__import__("flask").request.args)}

    @app.get("/test/logout")
    def logout():
        wikimedia.logout_session()
        return {"account": wikimedia.current_account()}

    @app.get("/test/refusal")
    def refusal():
        return wikimedia.render_refusal("deny_list", 403, ("Somebody",))


def test_require_login_comes_back_to_the_same_url(bridge, wm, browser):
    install_api_routes(bridge.app)
    first = browser.get(bridge.url + "/test/needs-login", params={"sso": "payload", "sig": "abc"},
                        allow_redirects=False, timeout=30)
    assert first.status_code == 302
    location = urlsplit(first.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query) == {"next": ["/test/needs-login?sso=payload&sig=abc"]}
    resp = wm.complete_login(browser, browser.get(bridge.url + first.headers["Location"], timeout=30), "Alice Member")
    assert resp.url == bridge.url + "/test/needs-login?sso=payload&sig=abc"
    assert resp.json() == {"username": "Alice Member", "query": {"sso": "payload", "sig": "abc"}}
    assert browser.get(bridge.url + "/test/logout", timeout=30).json() == {"account": None}
    assert whoami(browser, bridge).status_code == 401


def test_login_url_and_render_refusal(bridge, browser):
    install_api_routes(bridge.app)
    with bridge.app.test_request_context("/"):
        assert wikimedia.login_url() == "/login"
        assert parse_qs(urlsplit(wikimedia.login_url("/x?y=1&z=2", uselang="ar")).query) == {
            "next": ["/x?y=1&z=2"], "uselang": ["ar"]}
    resp = browser.get(bridge.url + "/test/refusal", headers={"Accept-Language": "ar"}, timeout=30)
    assert resp.status_code == 403 and i18n.message("ar", "spacebridge-refusal-deny-list", "Somebody") in resp.text


def test_member_blocked_after_login_loses_the_session(bridge, wm, browser):
    login(browser, bridge, wm, "Alice Member")
    wm.block("Alice Member")
    # the periodic re-check (a colleague's job) refreshes the account from Wikimedia
    profile = {"sub": 1001, "username": "Alice Member", "editcount": 1500, "confirmed_email": True, "blocked": True,
               "registered": "20150312104500", "groups": ["*", "user"], "email": "alice@example.org"}
    accounts.upsert_from_profile(bridge.engine, profile, login=False)
    assert whoami(browser, bridge).status_code == 401


def test_routes_are_absent_without_a_wikimedia_section(bridge, browser):
    from bridge import config
    from bridge.app import create_app

    settings = config.parse({"bridge": {"public_url": bridge.url, "secret_key": "x" * 32}})
    bridge.server.target.app = create_app(settings, bridge.engine)
    assert browser.get(bridge.url + "/login", allow_redirects=False, timeout=30).status_code == 404
    assert browser.get(bridge.url + "/healthz", timeout=30).status_code == 200



def test_a_stray_callback_does_not_log_a_member_out(bridge, wm, browser):
    login(browser, bridge, wm, "Alice Member")
    for query in ({"state": "forged", "code": "x"}, {"error": "access_denied"}, {"error": "invalid_request"}):
        browser.get(bridge.url + "/oauth/callback", params=query, timeout=30)
        assert whoami(browser, bridge).status_code == 200, query


def test_only_the_newest_logins_in_progress_are_kept(bridge, wm, browser):
    states = []
    for _ in range(wikimedia.MAX_PENDING_LOGINS + 3):
        resp = browser.get(bridge.url + "/login", allow_redirects=False, timeout=30)
        states.append(parse_qs(urlsplit(resp.headers["Location"]).query)["state"][0])
    cookie = browser.cookies.get(SESSION_COOKIE)
    assert len(cookie) < 4000
    data = bridge.app.session_interface.get_signing_serializer(bridge.app).loads(cookie)
    kept = sorted(k.removeprefix("_state_wikimedia_") for k in data if k.startswith("_state_wikimedia_"))
    assert kept == sorted(states[-wikimedia.MAX_PENDING_LOGINS:])


# -- the session's limits (sso/sessions.py) ----------------------------------------------------------------
def session_data(browser, bridge) -> dict:
    return bridge.app.session_interface.get_signing_serializer(bridge.app).loads(browser.cookies.get(SESSION_COOKIE))


def set_session(browser, bridge, data: dict) -> None:
    """Put a session the bridge itself could have issued into `browser` (signed with its key)."""
    forget_bridge_session(browser)
    cookie = bridge.app.session_interface.get_signing_serializer(bridge.app).dumps(data)
    browser.cookies.set(SESSION_COOKIE, cookie, domain="127.0.0.1")


@pytest.mark.parametrize("max_age, age, logged_in", [(None, 6 * 86400, True), (None, 7 * 86400 + 60, False),
                                                     (3600, 3000, True), (3600, 7200, False),
                                                     (None, -3600, False)])  # issued "in the future"
def test_a_login_older_than_the_maximum_age_no_longer_counts(bridge, wm, browser, max_age, age, logged_in):
    """The browser may keep the cookie as long as it likes: the bridge checks the login time."""
    if max_age:
        bridge.configure(session_max_age_seconds=max_age)
    login(browser, bridge, wm, "Alice Member")
    data = session_data(browser, bridge)
    set_session(browser, bridge, {**data, wikimedia.SESSION_LOGIN_AT: data[wikimedia.SESSION_LOGIN_AT] - age})
    assert whoami(browser, bridge).status_code == (200 if logged_in else 401)
    if not logged_in:  # and the stale login is gone from the cookie the bridge sends back (here: no cookie left)
        assert browser.cookies.get(SESSION_COOKIE) is None or wikimedia.SESSION_KEY not in session_data(browser, bridge)


def test_a_session_without_a_login_time_or_generation_is_no_login(bridge, wm, browser):
    login(browser, bridge, wm, "Alice Member")
    data = session_data(browser, bridge)
    for key in (wikimedia.SESSION_LOGIN_AT, wikimedia.SESSION_GENERATION):
        set_session(browser, bridge, {k: v for k, v in data.items() if k != key})
        assert whoami(browser, bridge).status_code == 401, key
    set_session(browser, bridge, {**data, wikimedia.SESSION_LOGIN_AT: str(data[wikimedia.SESSION_LOGIN_AT])})
    assert whoami(browser, bridge).status_code == 401


def test_login_starts_a_fresh_session(bridge, wm, browser):
    """Session fixation: nothing planted in the browser's session before the login survives it."""
    planted = {"planted": "by an attacker", "csrf_token": "attacker-known-token-0123456789abcdef",
               wikimedia.SESSION_REFUSAL: {"reason": "blocked", "status": 403},
               wikimedia.SESSION_KEY: "1005", wikimedia.SESSION_LOGIN_AT: 1,  # someone else's stale login
               "sso_pending": {"discourse:abc": time.time()}}
    set_session(browser, bridge, planted)
    started = browser.get(bridge.url + "/login", allow_redirects=False, timeout=30)
    during = session_data(browser, bridge)
    assert set(during) == {"sso_pending", "_state_wikimedia_" + parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]}
    resp = wm.complete_login(browser, browser.get(started.headers["Location"], timeout=30), "Alice Member")
    assert resp.json()["account"]["username"] == "Alice Member"
    after = session_data(browser, bridge)
    assert set(after) == {wikimedia.SESSION_KEY, wikimedia.SESSION_LOGIN_AT, wikimedia.SESSION_GENERATION,
                          "sso_pending"}
    assert after["sso_pending"] == planted["sso_pending"]  # the DiscourseConnect request waiting for this login
    assert after[wikimedia.SESSION_KEY] == "1001"


def test_the_session_is_checked_on_every_request(bridge, wm, browser):
    """Ending the generation (what log-out does) takes effect at the very next request."""
    from sso import sessions

    login(browser, bridge, wm, "Alice Member")
    assert whoami(browser, bridge).status_code == 200
    sessions.end_all(bridge.engine, "1001")
    assert whoami(browser, bridge).status_code == 401
